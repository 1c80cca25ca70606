using System.Buffers.Binary;
using System.Text;
using Ppn.Rig.Emulation;

namespace Ppn.Rig.Tests;

public class OvmfVariableFileTests
{
    // Debian's OVMF_VARS_4M.fd with two copies of one variable appended: a stale one (State 0x3C) and the live one.
    private static byte[] StoreWith(string name, byte[] stale, byte[] live, out string path)
    {
        var file = File.ReadAllBytes(RigEnvironment.OvmfVarsTemplate);
        int at = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(48)) + 28;
        at = Append(file, at, name, 0x3C, stale);
        Append(file, at, name, OvmfVariableFile.VarAdded, live);
        path = Path.Combine(Directory.CreateTempSubdirectory("ppn-ovmf-vars-").FullName, "node.OVMF_VARS.fd");
        File.WriteAllBytes(path, file);
        return file;
    }

    private static int Append(byte[] file, int at, string name, byte state, byte[] data)
    {
        var nameBytes = Encoding.Unicode.GetBytes(name + "\0");
        var h = file.AsSpan(at);
        h[..60].Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(h, 0x55AA);
        h[2] = state;
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], 7);
        BinaryPrimitives.WriteUInt32LittleEndian(h[36..], (uint)nameBytes.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(h[40..], (uint)data.Length);
        new Guid("7f2b9c10-6c1a-4d7e-9a55-5050504e3150").TryWriteBytes(h.Slice(44, 16));
        nameBytes.CopyTo(h[60..]);
        data.CopyTo(h[(60 + nameBytes.Length)..]);
        return (at + 60 + nameBytes.Length + data.Length + 3) & ~3;
    }

    [RigFact]
    public void Only_the_live_copy_of_a_variable_is_damaged()
    {
        StoreWith("PpnEnrolment", [1, 2, 3], [10, 20, 30, 40], out var path);
        try
        {
            OvmfVariableFile.DamageVariable(path, "PpnEnrolment", 2);
            var bytes = File.ReadAllBytes(path);
            var vars = OvmfVariableFile.Read(bytes, path);
            Assert.Equal(2, vars.Count);
            var stale = vars[0];
            var live = vars[1];
            Assert.Equal(("PpnEnrolment", (byte)0x3C), (stale.Name, stale.State));
            Assert.Equal([1, 2, 3], bytes.AsSpan(stale.DataOffset, stale.DataSize).ToArray());
            Assert.Equal([10, 20, 30 ^ 0xFF, 40], bytes.AsSpan(live.DataOffset, live.DataSize).ToArray());
            Assert.Throws<InvalidOperationException>(() => OvmfVariableFile.DamageVariable(path, "PpnReplayState", 0));
            Assert.Throws<ArgumentOutOfRangeException>(() => OvmfVariableFile.DamageVariable(path, "PpnEnrolment", 4));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public void A_file_that_is_not_a_firmware_volume_is_refused()
    {
        Assert.Throws<InvalidDataException>(() => OvmfVariableFile.Read(new byte[4096], "zeros.fd"));
    }
}
