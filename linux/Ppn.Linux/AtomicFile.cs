using Ppn.Linux.Interop;

namespace Ppn.Linux;

/// <summary>
/// The one way a persistent file is replaced here: whole or not at all, and durable once this returns. The new
/// contents go to <c>PATH.new</c> beside it (created with its final mode, so never briefly readable by others; one a
/// cut save left behind is removed first, it is never the file itself), fsync, rename over PATH (atomic on one
/// filesystem), then fsync of the directory, so a power cut after the return cannot bring the old file back
/// (rename(2) is only durable once its directory is; ext4's data=ordered does not promise it). A failure removes
/// PATH.new and leaves PATH as it was.
/// </summary>
public static class AtomicFile
{
    public const UnixFileMode Public = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static string TemporaryOf(string path) => path + ".new";

    public static void Replace(string path, ReadOnlySpan<byte> contents, UnixFileMode mode)
    {
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(directory);
        var temporary = TemporaryOf(full);
        try
        {
            File.Delete(temporary);
            using (var file = new FileStream(temporary, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                UnixCreateMode = mode,
            }))
            {
                file.Write(contents);
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temporary); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            throw;
        }
        using var dir = SafeFd.Open(directory, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY, advice: "the file was replaced, but its directory could not be synced");
        SyscallException.ThrowIfFailed(LibC.fsync(dir.Fd), "fsync", directory, "the file was replaced, but the rename may not survive a power cut");
    }
}
