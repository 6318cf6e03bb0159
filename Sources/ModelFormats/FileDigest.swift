import Foundation

/// A fingerprint of a file's contents: 64-bit FNV-1a over its bytes, with its length, as `fnv1a64:HEX:LENGTH`.
/// Checkpoints record one for every input file, so a model, weight or data file changed in place since the
/// checkpoint was written is noticed instead of mixing old results with new ones. It guards against accidents, not
/// adversaries (it is not a cryptographic hash), and it reads the file once, at memory speed.
public enum FileDigest {
    public static func of(_ path: String) throws(FormatError) -> String {
        let contents = try FileAccess.mappedContents(of: URL(fileURLWithPath: path))
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        contents.withUnsafeBytes { bytes in
            for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        }
        return "fnv1a64:" + String(hash, radix: 16) + ":\(contents.count)"
    }
}
