using System.Diagnostics;
using Ppn.Genesis.Entropy;
using Ppn.Genesis.Identity;

namespace Ppn.Genesis.Tests;

public class KeyAndEntropyTests
{
    [Fact]
    public void Our_public_key_equals_what_wg_pubkey_derives()
    {
        var seed = new byte[32];
        Random.Shared.NextBytes(seed);
        using var keys = NodeKeyPair.FromSeed(seed);
        var psi = new ProcessStartInfo("wg", "pubkey") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var wg = Process.Start(psi)!;
        wg.StandardInput.WriteLine(Convert.ToBase64String(keys.PrivateKey));
        wg.StandardInput.Close();
        var output = wg.StandardOutput.ReadToEnd().Trim();
        Assert.True(wg.WaitForExit(TimeSpan.FromSeconds(10)));
        Assert.Equal(output, keys.PublicKeyBase64);
    }

    [Fact]
    public void The_private_key_is_clamped_withheld_from_ToString_and_zeroed_on_dispose()
    {
        var keys = NodeKeyPair.FromSeed(Enumerable.Repeat((byte)0xFF, 32).ToArray());
        Assert.Equal(0xF8, keys.PrivateKey[0]);
        Assert.Equal(0x7F, keys.PrivateKey[31]);
        Assert.DoesNotContain(Convert.ToBase64String(keys.PrivateKey), keys.ToString());
        keys.Dispose();
        Assert.Throws<ObjectDisposedException>(() => keys.PrivateKey.ToArray());
    }

    [Fact]
    public void The_mixer_records_which_sources_contributed_and_why_others_did_not()
    {
        var mixer = new EntropyMixer([new KernelRandomSource(), new FixedSource("rdseed", EntropySources.CpuRdseed, 0xAA), new FailingSource()]);
        var seed = new byte[32];
        var result = mixer.Mix(seed);
        Assert.Equal(EntropySources.KernelCsprng | EntropySources.CpuRdseed, result.Sources);
        Assert.Single(result.Problems);
        Assert.Contains("broken: device gone", result.Problems[0]);
        Assert.NotEqual(new byte[32], seed);
    }

    [Fact]
    public void A_constant_hostile_source_cannot_make_the_seed_predictable()
    {
        var mixer = new EntropyMixer([new FixedSource("evil", EntropySources.CpuRdrand, 0x00)]);
        var a = new byte[32];
        var b = new byte[32];
        mixer.Mix(a);
        mixer.Mix(b);
        Assert.NotEqual(a, b); // the getrandom key differs every time
    }

    [Fact]
    public void The_cpu_generator_answers_with_changing_output_where_the_cpu_has_one()
    {
        var source = new CpuRngSource();
        var a = new byte[64];
        var b = new byte[64];
        var flag = source.TryFill(a, out var problem);
        if (!CpuRngSource.HasRdrand && !CpuRngSource.HasRdseed)
        {
            Assert.Equal(EntropySources.None, flag);
            Assert.NotNull(problem);
            return;
        }
        Assert.True(flag is EntropySources.CpuRdrand or EntropySources.CpuRdseed, problem);
        source.TryFill(b, out _);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void A_missing_hardware_rng_is_reported_not_thrown()
    {
        var flag = new HardwareRngSource("/nonexistent/hwrng").TryFill(new byte[16], out var problem);
        Assert.Equal(EntropySources.None, flag);
        Assert.Contains("/nonexistent/hwrng", problem);
    }

    private sealed class FixedSource(string label, EntropySources flag, byte value) : IEntropySource
    {
        public string Label => label;
        public EntropySources TryFill(Span<byte> destination, out string? problem)
        {
            destination.Fill(value);
            problem = null;
            return flag;
        }
    }

    private sealed class FailingSource : IEntropySource
    {
        public string Label => "broken";
        public EntropySources TryFill(Span<byte> destination, out string? problem)
        {
            problem = "device gone";
            return EntropySources.None;
        }
    }
}
