using System.Net;
using System.Text;
using Ppn.Genesis.Enrolment;

namespace Ppn.Genesis.Tests;

/// <summary>Command-key epochs are 4 bits (docs/protocol/genesis.md §Grant): 16 and above are refused everywhere, never taken mod 16.</summary>
public class CommandEpochRangeTests
{
    private static readonly IPEndPoint Hub = IPEndPoint.Parse("198.51.100.7:51820");

    [Theory]
    [InlineData(15u, true)]
    [InlineData(16u, false)]
    [InlineData(21u, false)]
    [InlineData(uint.MaxValue, false)]
    public void The_grant_parser_takes_epochs_up_to_15_only(uint epoch, bool accepted)
    {
        var grant = new EnrolmentGrant(GrantStatus.Granted, 17, IPAddress.Parse("10.8.0.17"), Hub, new byte[32], epoch, new byte[32], 0, new byte[64]);
        var bytes = new byte[EnrolmentGrant.Size];
        grant.WriteTo(bytes);
        Assert.Equal(accepted, EnrolmentGrant.TryParse(bytes, out var parsed, out var error));
        if (accepted)
        {
            Assert.Equal(epoch, parsed!.CommandKeyEpoch);
        }
        else
        {
            Assert.Contains($"command-key epoch {epoch} is outside 0..15", error);
        }
    }

    [Fact]
    public void An_authority_cannot_be_made_or_loaded_with_an_epoch_above_15()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => AuthorityCredential.Generate(Hub, new byte[32], commandKeyEpoch: 16));
        using var valid = AuthorityCredential.Generate(Hub, new byte[32], commandKeyEpoch: 15);
        var json = Encoding.UTF8.GetString(valid.ToJson());
        Assert.True(AuthorityCredential.TryParse(Encoding.UTF8.GetBytes(json), out var again, out _));
        again!.Dispose();
        var bad = json.Replace("\"commandKeyEpoch\": 15", "\"commandKeyEpoch\": 21", StringComparison.Ordinal);
        Assert.NotEqual(json, bad);
        Assert.False(AuthorityCredential.TryParse(Encoding.UTF8.GetBytes(bad), out _, out var error));
        Assert.Contains("0..15", error);
    }
}
