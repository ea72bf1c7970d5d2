using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

// Marks the GLIBCXX_3.4.32 version-needed entry of libLibTorchSharp.so weak when the system libstdc++ lacks it.
public class PatchGlibcxxWeak : Task
{
    const string Version = "GLIBCXX_3.4.32";
    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlagWeak = 0x2;

    [Required] public string Directory { get; set; } = "";
    /// <summary>Patch whatever this machine's libstdc++ has: for outputs that run elsewhere (a container image built on
    /// a newer distribution than the one it runs on). A weak entry is harmless where the version exists.</summary>
    public bool Always { get; set; }

    static readonly string[] LibStdCxxCandidates =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
    };

    public override bool Execute()
    {
        string target = Path.Combine(Directory, "libLibTorchSharp.so");
        if (!File.Exists(target)) return true;
        string system = Array.Find(LibStdCxxCandidates, File.Exists);
        if (!Always && system != null && Contains(File.ReadAllBytes(system), Encoding.ASCII.GetBytes(Version + "\0")))
            return true; // GCC >= 13 runtime: nothing to do.
        try
        {
            int patched = Patch(target);
            if (patched > 0)
            {
                string why = Always ? "RegionChatPatchGlibcxx=always" : "system libstdc++ lacks it";
                Log.LogMessage(MessageImportance.High, $"RegionChat: marked {Version} weak in {target} ({why}).");
            }
            return true;
        }
        catch (Exception e)
        {
            Log.LogWarning($"RegionChat: could not patch {target}: {e.Message}");
            return true;
        }
    }

    static bool Contains(byte[] hay, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= hay.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && hay[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }

    /// <summary>Returns how many entries were changed (0 when already weak or absent).</summary>
    public static int Patch(string path)
    {
        byte[] b = File.ReadAllBytes(path);
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F' || b[4] != 2 || b[5] != 1)
            throw new InvalidDataException("not a little-endian ELF64 file");
        long shoff = (long)BitConverter.ToUInt64(b, 0x28);
        int shentsize = BitConverter.ToUInt16(b, 0x3A), shnum = BitConverter.ToUInt16(b, 0x3C);
        int changed = 0;
        for (int s = 0; s < shnum; s++)
        {
            long sh = shoff + (long)s * shentsize;
            if (BitConverter.ToUInt32(b, (int)sh + 4) != ShtGnuVerneed) continue;
            long off = (long)BitConverter.ToUInt64(b, (int)sh + 0x18);
            uint link = BitConverter.ToUInt32(b, (int)sh + 0x28), count = BitConverter.ToUInt32(b, (int)sh + 0x2C);
            long strOff = (long)BitConverter.ToUInt64(b, (int)(shoff + (long)link * shentsize) + 0x18);
            long vn = off;
            for (uint i = 0; i < count; i++)
            {
                int cnt = BitConverter.ToUInt16(b, (int)vn + 2);
                long aux = vn + BitConverter.ToUInt32(b, (int)vn + 8);
                for (int a = 0; a < cnt; a++)
                {
                    long name = strOff + BitConverter.ToUInt32(b, (int)aux + 8);
                    int end = (int)name;
                    while (b[end] != 0) end++;
                    if (Encoding.ASCII.GetString(b, (int)name, end - (int)name) == Version)
                    {
                        ushort flags = BitConverter.ToUInt16(b, (int)aux + 4);
                        if ((flags & VerFlagWeak) == 0)
                        {
                            BitConverter.GetBytes((ushort)(flags | VerFlagWeak)).CopyTo(b, (int)aux + 4);
                            changed++;
                        }
                    }
                    aux += BitConverter.ToUInt32(b, (int)aux + 12);
                }
                vn += BitConverter.ToUInt32(b, (int)vn + 12);
            }
        }
        if (changed > 0)
        {
            string tmp = path + ".patching";
            File.WriteAllBytes(tmp, b);
            File.Delete(path); // a new inode: never writes through a hard link into the NuGet cache
            File.Move(tmp, path);
        }
        return changed;
    }
}
