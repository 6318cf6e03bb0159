import Foundation

/// Several archives read as one: the shards of a sharded checkpoint, or the weight files of a directory.
/// Names must be unique across the parts.
public struct CombinedArchive: TensorArchive {
    public let path: String
    public let formatName: String
    public let descriptors: [TensorDescriptor]
    /// The files read, in order.
    public let parts: [any TensorArchive]
    private let partOfTensor: [String: Int]
    /// The parts' layout when they all agree on one.
    public var kernelLayout: KernelLayout? {
        let layouts = parts.map(\.kernelLayout)
        return layouts.allSatisfy { $0 == layouts.first } ? layouts.first ?? nil : nil
    }

    public init(path: String, formatName: String, parts: [any TensorArchive]) throws(FormatError) {
        self.path = path
        self.formatName = formatName
        self.parts = parts
        var owner: [String: Int] = [:]
        var descriptors: [TensorDescriptor] = []
        for (index, part) in parts.enumerated() {
            for descriptor in part.descriptors {
                if let previous = owner[descriptor.name] {
                    throw FormatError(.duplicateName, file: path, tensor: descriptor.name,
                                      "the name appears in both \(parts[previous].path) and \(part.path)")
                }
                owner[descriptor.name] = index
                descriptors.append(descriptor)
            }
        }
        self.descriptors = descriptors
        partOfTensor = owner
    }

    public func tensor(named name: String) throws(FormatError) -> StoredTensor {
        guard let index = partOfTensor[name] else { throw missing(name) }
        return try parts[index].tensor(named: name)
    }

    public func tensorBytes(named name: String, range: Range<Int>) throws(FormatError) -> Data {
        guard let index = partOfTensor[name] else { throw missing(name) }
        return try parts[index].tensorBytes(named: name, range: range)
    }

    /// A sharded checkpoint from its index (`model.safetensors.index.json`, `pytorch_model.bin.index.json`):
    /// `{"metadata": {...}, "weight_map": {"tensor name": "shard file name", ...}}`. Every shard the map names is
    /// opened, and every mapped tensor must be in the shard the map says.
    public static func sharded(index url: URL) throws(FormatError) -> CombinedArchive {
        let file = url.relativePath
        let index: JSONValue
        do {
            index = try StrictJSONParser.parse(Array(try FileAccess.mappedContents(of: url)))
        } catch let error as StrictJSONParser.Failure {
            throw FormatError(.invalidHeader, file: file, "the index is not valid JSON: \(error.message)")
        } catch {
            throw error as! FormatError
        }
        guard case .object(let weightMap)? = index["weight_map"] else {
            throw FormatError(.invalidHeader, file: file, "the index has no object 'weight_map'")
        }
        var shardNames: [String] = []
        var expected: [(tensor: String, shard: String)] = []
        for (tensor, value) in weightMap {
            guard case .string(let shard) = value, !shard.contains("/"), !shard.contains("\\"), shard != "..", !shard.isEmpty else {
                throw FormatError(.invalidHeader, file: file, tensor: tensor,
                                  "the weight_map entry must name a file in the index's directory")
            }
            if !shardNames.contains(shard) { shardNames.append(shard) }
            expected.append((tensor, shard))
        }
        let directory = url.deletingLastPathComponent()
        var parts: [any TensorArchive] = []
        for shard in shardNames { parts.append(try WeightFile.open(directory.appendingPathComponent(shard))) }
        let archive = try CombinedArchive(path: file, formatName: "sharded " + (parts.first?.formatName ?? "checkpoint"),
                                          parts: parts)
        for (tensor, shard) in expected {
            let part = parts[shardNames.firstIndex(of: shard)!]
            guard part.descriptors.contains(where: { $0.name == tensor }) else {
                throw FormatError(.missingTensor, file: file, tensor: tensor,
                                  "the weight_map places it in \(shard), which does not contain it")
            }
        }
        return archive
    }
}
