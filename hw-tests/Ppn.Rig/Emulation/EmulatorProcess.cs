using System.Diagnostics;
using System.Globalization;
using Ppn.Rig.Model;
using Ppn.Rig.Net;

namespace Ppn.Rig.Emulation;

/// <summary>
/// One running QEMU: started inside the rig's namespace when the machine has a link (<c>ip netns exec</c> execs
/// QEMU in place, so the pid held is QEMU's own), stdin closed, stdout and stderr read by
/// <see cref="EmulatorOutput"/>, its exit observed. <see cref="Exited"/> is set only after the readers drained
/// and the exit callback ran, so whoever waits on it sees a complete console.
/// </summary>
public sealed class EmulatorProcess : IDisposable
{
    private readonly Process _process;
    private readonly ManualResetEventSlim _exited = new(false);

    private EmulatorProcess(Process process, EmulatorOutput output)
    {
        _process = process;
        Output = output;
    }

    public int Pid => _process.Id;
    public EmulatorOutput Output { get; }
    public int? ExitCode { get; private set; }
    public bool HasExited => _exited.IsSet;

    /// <summary>Set once the emulator is gone and its output drained.</summary>
    public ManualResetEventSlim Exited => _exited;

    /// <summary>
    /// Starts QEMU with <paramref name="arguments"/>; <paramref name="onExit"/> runs (on a thread-pool thread) with
    /// the exit code after the output drained, before <see cref="Exited"/> is set. Throws
    /// <see cref="RigInfrastructureException"/> (<see cref="RigFault.EmulatorMissing"/>) when it cannot start.
    /// </summary>
    public static EmulatorProcess Start(string name, IReadOnlyList<string> arguments, NetworkNamespace? ns,
        ConsoleLog console, bool stdoutIsConsole, Action<int> onExit)
    {
        var info = new ProcessStartInfo(ns is null ? RigEnvironment.QemuBinary : "ip")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (ns is not null)
        {
            foreach (var a in new[] { "netns", "exec", ns.Name, RigEnvironment.QemuBinary })
            {
                info.ArgumentList.Add(a);
            }
        }
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        EmulatorProcess? started = null;
        var ready = new ManualResetEventSlim(false);
        process.Exited += (_, _) =>
        {
            ready.Wait(TimeSpan.FromSeconds(10));
            started?.OnExited(onExit);
        };
        try
        {
            process.Start();
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            process.Dispose();
            throw new RigInfrastructureException(RigFault.EmulatorMissing, $"node {name}: QEMU did not start: {e.Message}", e);
        }
        process.StandardInput.Close();
        var output = new EmulatorOutput(name, process.StandardOutput.BaseStream, process.StandardError.BaseStream, console, stdoutIsConsole);
        started = new EmulatorProcess(process, output);
        ready.Set();
        return started;
    }

    private void OnExited(Action<int> onExit)
    {
        int code;
        try
        {
            code = _process.ExitCode;
        }
        catch (InvalidOperationException)
        {
            code = -1;
        }
        ExitCode = code;
        Output.Drain(TimeSpan.FromSeconds(5));
        try
        {
            onExit(code);
        }
        finally
        {
            _exited.Set();
        }
    }

    /// <summary>SIGKILL, then waits (bounded) until the process is reaped. False: it survived <paramref name="budget"/>.</summary>
    public bool Kill(TimeSpan budget)
    {
        if (!_exited.IsSet)
        {
            try
            {
                _process.Kill();
            }
            catch (InvalidOperationException)
            {
                // Exited between the check and the kill.
            }
        }
        return _exited.Wait(budget);
    }

    public string Describe => string.Create(CultureInfo.InvariantCulture, $"QEMU pid {Pid}");

    public void Dispose()
    {
        if (_exited.IsSet)
        {
            _process.Dispose();
        }
    }
}
