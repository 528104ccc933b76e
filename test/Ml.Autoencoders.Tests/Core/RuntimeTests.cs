using Ml.Autoencoders.Runtime;
using TorchSharp;

namespace Ml.Autoencoders.Tests;

/// <summary>The native backend loads in this process, with the build's fix where the host needs it.</summary>
[TestClass]
public sealed class RuntimeTests
{
    /// <summary>torch initialises and computes inside the test process.</summary>
    [TestMethod]
    public void TorchInitialisesInTheTestProcess()
    {
        string description = TorchRuntime.EnsureLoaded();
        StringAssert.Contains(description, "libtorch 2.10");
        using var a = torch.ones(3, 3);
        using var b = a.matmul(a);
        Assert.AreEqual(3f, b[0, 0].item<float>());
    }

    /// <summary>
    /// Where the host's libstdc++ lacks GLIBCXX_3.4.32, the copy of libLibTorchSharp.so in the output has
    /// that version need marked weak; elsewhere it is left as shipped.
    /// </summary>
    [TestMethod]
    public void LibTorchSharpInOutputIsPatchedOnlyWhereNeeded()
    {
        if (!OperatingSystem.IsLinux()) Assert.Inconclusive("Linux only.");
        var lib = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.IsTrue(File.Exists(lib), lib);
        var hostLib = new[] { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64" }
            .Select(d => Path.Combine(d, "libstdc++.so.6")).FirstOrDefault(File.Exists);
        bool hostHas = hostLib is not null && Contains(File.ReadAllBytes(hostLib), "GLIBCXX_3.4.32\0"u8.ToArray());
        ushort? flags = GlibcxxNeedFlags(File.ReadAllBytes(lib));
        Assert.IsNotNull(flags, "libLibTorchSharp.so 0.107 declares a GLIBCXX_3.4.32 need");
        Assert.AreEqual(hostHas ? 0 : 2, flags.Value & 2, hostHas ? "host has the version: left as shipped" : "host lacks the version: must be weak");
    }

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;

    /// <summary>vna_flags of the GLIBCXX_3.4.32 entry of .gnu.version_r, read independently of the build task.</summary>
    private static ushort? GlibcxxNeedFlags(byte[] b)
    {
        long shoff = BitConverter.ToInt64(b, 0x28);
        int size = BitConverter.ToUInt16(b, 0x3A), count = BitConverter.ToUInt16(b, 0x3C);
        for (int s = 0; s < count; s++)
        {
            int sh = (int)(shoff + s * size);
            if (BitConverter.ToUInt32(b, sh + 4) != 0x6ffffffe) continue;
            long off = BitConverter.ToInt64(b, sh + 0x18);
            int link = (int)BitConverter.ToUInt32(b, sh + 0x28);
            long strings = BitConverter.ToInt64(b, (int)(shoff + link * size) + 0x18);
            long vn = off;
            for (int n = 0; n < BitConverter.ToUInt32(b, sh + 0x2C); n++)
            {
                long aux = vn + BitConverter.ToUInt32(b, (int)vn + 8);
                for (int a = 0; a < BitConverter.ToUInt16(b, (int)vn + 2); a++)
                {
                    int name = (int)(strings + BitConverter.ToUInt32(b, (int)aux + 8));
                    int end = Array.IndexOf(b, (byte)0, name);
                    if (System.Text.Encoding.ASCII.GetString(b, name, end - name) == "GLIBCXX_3.4.32")
                        return BitConverter.ToUInt16(b, (int)aux + 4);
                    aux += BitConverter.ToUInt32(b, (int)aux + 12);
                }
                vn += BitConverter.ToUInt32(b, (int)vn + 12);
            }
        }
        return null;
    }
}
