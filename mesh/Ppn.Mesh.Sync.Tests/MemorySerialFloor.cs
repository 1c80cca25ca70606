namespace Ppn.Mesh.Sync.Tests;

/// <summary>The serial floor in memory (the appliance keeps it in the UEFI variable PpnPeerSetSerial).</summary>
internal sealed class MemorySerialFloor(ulong serial = 0) : ISerialFloor
{
    private ulong _serial = serial;
    public ulong Load() => _serial;
    public void Save(ulong serial) => _serial = serial;
}
