using System.Net;
using Ppn.Appliance.Commands;
using Ppn.Appliance.Lifecycle;
using Ppn.Genesis.Enrolment;

namespace Ppn.Appliance.Telemetry;

/// <summary>
/// The lifecycle's intake with telemetry beside it: the command service for the grant, then the metrics endpoint on
/// the same mesh address on ppn0 (so it follows the grant: stopped before ppn0 moves, started on the new address). The
/// endpoint never takes the command intake down: if it cannot bind or its accept loop gives up, that is logged and it
/// is bound again at the lifecycle's next check (every converge interval), while 8090 keeps running.
/// </summary>
public sealed class TelemetryIntake(
    ICommandIntake commands,
    Func<EnrolmentGrant, CommandService, NodeTelemetry> telemetry,
    Action<string> log,
    int port = MetricsEndpoint.DefaultPort,
    IPAddress? bindAddress = null,
    string? device = EnrolledMesh.Interface) : ICommandIntake
{
    public IRunningIntake Start(EnrolmentGrant grant)
    {
        var running = commands.Start(grant);
        if (running is not CommandService service) return running;
        var options = MetricsEndpoint.DefaultOptions with { Port = port, Device = device };
        return new Running(service, () => MetricsEndpoint.Start(bindAddress ?? grant.Address, telemetry(grant, service), log, options), log);
    }

    private sealed class Running : IRunningIntake
    {
        private readonly CommandService _service;
        private readonly Func<MetricsEndpoint> _start;
        private readonly Action<string> _log;
        private MetricsEndpoint? _endpoint;
        private string? _lastError;

        public Running(CommandService service, Func<MetricsEndpoint> start, Action<string> log)
        {
            (_service, _start, _log) = (service, start, log);
            EnsureEndpoint();
        }

        /// <summary>The command service's failure only. The lifecycle polls this every interval; the poll also re-binds a failed endpoint.</summary>
        public Exception? Failure
        {
            get
            {
                EnsureEndpoint();
                return _service.Failure;
            }
        }

        public bool InterfaceReplaced => _service.InterfaceReplaced;

        public MetricsEndpoint? Endpoint => _endpoint;

        private void EnsureEndpoint()
        {
            if (_endpoint is { Failure: { } failure })
            {
                _log($"{failure.Message}; re-binding");
                _endpoint.Dispose();
                _endpoint = null;
            }
            if (_endpoint is not null) return;
            try
            {
                _endpoint = _start();
                _lastError = null;
                _log($"serving metrics on http://{_endpoint.LocalEndPoint}{MetricsEndpoint.Path}");
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException)
            {
                if (e.Message != _lastError) _log($"metrics endpoint not listening ({e.Message}); retrying with the next lifecycle check");
                _lastError = e.Message;
            }
        }

        public void Dispose()
        {
            _endpoint?.Dispose();
            _service.Dispose();
        }
    }
}
