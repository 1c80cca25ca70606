namespace Ppn.Rig.Emulation;

/// <summary>An emulated machine's NVRAM: a copy of OVMF's variable store template. The same file is the same machine.</summary>
public static class NvramFile
{
    /// <summary>
    /// A factory-new NVRAM: a fresh copy of the OVMF variable store template, mode 0600 from the first byte on
    /// (the node writes its private key into it; File.Copy would keep the template's 0644).
    /// </summary>
    public static void CreateFactoryNew(string path, string template = RigEnvironment.OvmfVarsTemplate)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var source = File.OpenRead(template);
        using var target = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        // An existing file keeps its mode through FileMode.Create: narrow it before any byte is written.
        File.SetUnixFileMode(target.SafeFileHandle, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        source.CopyTo(target);
    }
}
