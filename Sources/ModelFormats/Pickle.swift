import Foundation

/// A value decoded from a pickle. Nothing is ever executed: globals are names, and calls to allowed globals
/// become symbolic values the torch reader interprets.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case integer(Int)
    case float(Double)
    case string(String)
    case bytes(Data)
    case tuple([PickleValue])
    case list(PickleList)
    case dictionary(PickleDictionary)
    case global(module: String, name: String)
    /// A torch storage named by a persistent id: `('storage', storage_type, key, location, numel)`.
    case storage(TorchStorageReference)
    /// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`.
    case tensor(TorchTensorReference)

    var typeName: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .integer: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .tuple: "tuple"
        case .list: "list"
        case .dictionary: "dict"
        case .global(let module, let name): "\(module).\(name)"
        case .storage: "storage"
        case .tensor: "tensor"
        }
    }
}

/// Python lists and dicts are mutable and shared through the memo, so they are reference types here. Each knows its
/// nesting depth and whether it sits inside another container, after which it may not change (see
/// ``TorchUnpickler/maximumDepth``).
final class PickleList {
    var items: [PickleValue]
    var depth = 1
    var isContained = false
    init(_ items: [PickleValue] = []) { self.items = items }
}

final class PickleDictionary {
    var entries: [(key: PickleValue, value: PickleValue)] = []
    var depth = 1
    var isContained = false
    init() {}
}

struct TorchStorageReference: Equatable {
    var key: String
    var dtype: DType
    /// Element count as recorded in the persistent id.
    var elementCount: Int
}

struct TorchTensorReference: Equatable {
    var storage: TorchStorageReference
    var storageOffset: Int
    var shape: [Int]
    var strides: [Int]
}

/// A pickle machine for the protocol subset `torch.save` emits (protocols 2-5). It builds values and refuses
/// every global outside a fixed allow-list before anything could be looked up, so a malicious pickle fails with
/// `refusedPickle` and nothing runs.
struct TorchUnpickler {
    let file: String
    private var reader: ByteReader
    /// A value on the machine's stack or in its memo, with the nesting depth it had when built (a tuple's is final;
    /// a list's or dict's lives in the object).
    private struct Entry {
        var value: PickleValue
        var depth: Int
    }

    private var stack: [Entry] = []
    private var markStack: [Int] = []
    private var memo: [Int: Entry] = [:]
    /// Accepts the legacy format's persistent ids, which carry a sixth field (a storage view, which must be None).
    private let legacy: Bool
    /// Every storage a persistent id named, by key.
    private(set) var storages: [String: TorchStorageReference] = [:]
    /// The offset of the next unread byte.
    var position: Int { reader.position }

    /// Globals a state dict needs; anything else is refused.
    static let allowedGlobals = Set([
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
        "torch._tensor._rebuild_from_type_v2", "torch.nn.parameter.Parameter",
    ]).union(storageTypes.keys.map { "torch.\($0)" })

    /// Bounds the values a hostile pickle can pile up (DUP in a loop costs one byte per value).
    static let maximumValues = 1 << 22
    /// Bounds how deeply containers nest. A checkpoint nests a few levels (a dict of optimizer state of dicts of
    /// tensors); a 60 KB pickle of lists nested 20,000 deep overflowed the stack when freed. A container may not
    /// change once it is inside another (torch.save fills each before placing it), which also refuses cycles.
    static let maximumDepth = 200

    /// Storage classes named in persistent ids, with their element types.
    static let storageTypes: [String: DType] = [
        "FloatStorage": .float32, "DoubleStorage": .float64, "HalfStorage": .float16, "BFloat16Storage": .bfloat16,
        "LongStorage": .int64, "IntStorage": .int32, "ShortStorage": .int16, "CharStorage": .int8,
        "ByteStorage": .uint8, "BoolStorage": .bool,
    ]

    init(_ data: Data, file: String, legacy: Bool = false) {
        self.file = file
        self.legacy = legacy
        reader = ByteReader(data, file: file)
    }

    /// Decodes the next of several pickles written one after another (the legacy torch.save format), each with its
    /// own memo as `pickle.load` gives it.
    mutating func loadNext() throws(FormatError) -> PickleValue {
        stack.removeAll()
        markStack.removeAll()
        memo.removeAll()
        return try load()
    }

    private func refused(_ reason: String) -> FormatError {
        FormatError(.refusedPickle, file: file, "refused to unpickle: \(reason); nothing was executed")
    }

    /// `value` as a dict key: Python refuses lists and dicts (and tuples holding them) as keys, so a pickle that has
    /// one was not written by Python.
    private func key(_ value: PickleValue) throws(FormatError) -> PickleValue {
        func hashable(_ value: PickleValue) -> Bool {
            switch value {
            case .list, .dictionary: false
            case .tuple(let items): items.allSatisfy(hashable)
            default: true
            }
        }
        guard hashable(value) else { throw malformed("a dict key of type \(value.typeName), which Python cannot hash") }
        return value
    }

    private func malformed(_ reason: String) -> FormatError {
        FormatError(.invalidHeader, file: file, "malformed pickle: \(reason)")
    }

    private mutating func pop() throws(FormatError) -> Entry {
        guard let value = stack.popLast() else { throw malformed("stack underflow") }
        if let mark = markStack.last, stack.count < mark { throw malformed("stack underflow past a mark") }
        return value
    }

    private mutating func push(_ value: PickleValue, depth: Int = 0) {
        stack.append(Entry(value: value, depth: depth))
    }

    /// An entry's depth now: a list or dict may have grown since it was pushed.
    private func depth(_ entry: Entry) -> Int {
        switch entry.value {
        case .list(let list): list.depth
        case .dictionary(let dictionary): dictionary.depth
        default: entry.depth
        }
    }

    /// The depth of a container holding `children`, which from now on may not change; refused past the limit.
    private func contain(_ children: [Entry]) throws(FormatError) -> Int {
        let nested = 1 + (children.map(depth).max() ?? 0)
        guard nested <= Self.maximumDepth else {
            throw malformed("containers nested more than \(Self.maximumDepth) deep: not a state dict")
        }
        for child in children {
            switch child.value {
            case .list(let list): list.isContained = true
            case .dictionary(let dictionary): dictionary.isContained = true
            default: break
            }
        }
        return nested
    }

    /// The new depth of `container` (a list or dict on top of the stack) once it holds `children`. It must not sit
    /// inside another container yet, nor be one of the children.
    private func grow(_ container: AnyObject, by children: [Entry], isContained: Bool, depth current: Int) throws(FormatError) -> Int {
        let isItself = children.contains { child in
            switch child.value {
            case .list(let list): list === container
            case .dictionary(let dictionary): dictionary === container
            default: false
            }
        }
        guard !isContained, !isItself else {
            throw refused("a list or dict changed after being placed in another, or placed in itself (a recursive structure)")
        }
        return max(current, try contain(children))
    }

    /// The items above the topmost mark, removing them and the mark.
    private mutating func popToMark() throws(FormatError) -> [Entry] {
        guard let mark = markStack.popLast() else { throw malformed("no mark on the stack") }
        guard mark <= stack.count else { throw malformed("mark past the stack") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private mutating func string(length: Int) throws(FormatError) -> String {
        guard let text = String(data: try reader.bytes(length, "a pickled string"), encoding: .utf8) else {
            throw malformed("a string is not valid UTF-8")
        }
        return text
    }

    private mutating func line() throws(FormatError) -> String {
        var bytes: [UInt8] = []
        while true {
            let byte = try reader.byte("a pickled name")
            if byte == 0x0A { break }
            bytes.append(byte)
            guard bytes.count < 1024 else { throw malformed("a global's name is too long") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private mutating func length(_ value: UInt64) throws(FormatError) -> Int {
        guard value <= UInt64(reader.remaining) else {
            throw FormatError(.truncated, file: file, "file is truncated: a pickled value of \(value) bytes runs past the end")
        }
        return Int(value)
    }

    private func checkGlobal(_ module: String, _ name: String) throws(FormatError) -> PickleValue {
        guard Self.allowedGlobals.contains("\(module).\(name)") else {
            throw refused("global '\(module).\(name)' is not on the allow-list of tensor-rebuilding functions")
        }
        return .global(module: module, name: name)
    }

    private func integer(_ value: PickleValue, _ what: String) throws(FormatError) -> Int {
        guard case .integer(let number) = value else { throw malformed("\(what) is a \(value.typeName), not an int") }
        return number
    }

    private func integers(_ value: PickleValue, _ what: String) throws(FormatError) -> [Int] {
        guard case .tuple(let items) = value else { throw malformed("\(what) is a \(value.typeName), not a tuple") }
        var result: [Int] = []
        for item in items { result.append(try integer(item, what)) }
        return result
    }

    /// Resolves `BINPERSID`: torch's persistent ids name storages.
    /// `('storage', type, key, location, numel)`, and in the legacy format a sixth field, the storage view.
    private mutating func persistentLoad(_ id: PickleValue) throws(FormatError) -> PickleValue {
        guard case .tuple(let items) = id, items.count == (legacy ? 6 : 5), case .string("storage") = items[0],
              case .global(let module, let typeName) = items[1], module == "torch",
              let dtype = Self.storageTypes[typeName], case .string(let key) = items[2] else {
            throw refused("unexpected persistent id \(id.typeName)")
        }
        if legacy, case .tuple = items[5] {
            throw FormatError(.unsupportedFeature, file: file, "storage views (PyTorch before 0.4) are not supported; re-save the file " +
                              "with a current PyTorch: torch.save(torch.load(path, weights_only=True), new_path)")
        }
        let count = try integer(items[4], "a storage size")
        guard count >= 0 else { throw malformed("negative storage size") }
        let storage = TorchStorageReference(key: key, dtype: dtype, elementCount: count)
        storages[key] = storage
        return .storage(storage)
    }

    /// Applies an allowed callable (REDUCE) to its argument tuple, symbolically.
    private func call(_ function: PickleValue, _ arguments: PickleValue) throws(FormatError) -> PickleValue {
        guard case .global(let module, let name) = function else {
            throw refused("a call to a \(function.typeName)")
        }
        guard case .tuple(let args) = arguments else { throw malformed("call arguments are not a tuple") }
        switch "\(module).\(name)" {
        case "collections.OrderedDict":
            guard args.isEmpty else { throw refused("OrderedDict called with arguments") }
            return .dictionary(PickleDictionary())
        case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
            guard args.count >= 4, case .storage(let storage) = args[0] else {
                throw malformed("_rebuild_tensor without a storage")
            }
            return .tensor(TorchTensorReference(
                storage: storage, storageOffset: try integer(args[1], "a storage offset"),
                shape: try integers(args[2], "a tensor size"), strides: try integers(args[3], "a tensor stride")))
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard let data = args.first, case .tensor = data else { throw malformed("_rebuild_parameter without a tensor") }
            return data
        case "torch._tensor._rebuild_from_type_v2":
            // (function, type, args, state): a tensor subclass rebuilt by an inner allowed call.
            guard args.count >= 3 else { throw malformed("_rebuild_from_type_v2 needs 3 arguments") }
            return try call(args[0], args[2])
        default:
            throw refused("'\(module).\(name)' cannot be called")
        }
    }

    /// Runs the pickle to its STOP opcode and returns the top value.
    mutating func load() throws(FormatError) -> PickleValue {
        while true {
            guard stack.count + memo.count < Self.maximumValues else {
                throw malformed("more than \(Self.maximumValues) values: not a state dict")
            }
            let opcode = try reader.byte("a pickle opcode")
            switch opcode {
            case 0x80:  // PROTO
                let protocolNumber = try reader.byte("the protocol number")
                guard protocolNumber <= 5 else { throw malformed("pickle protocol \(protocolNumber) is newer than 5, the highest Python writes") }
            case 0x95: _ = try reader.integer(UInt64.self, "a frame length")  // FRAME: framing is advisory
            case 0x2E:  // STOP
                guard let value = stack.last?.value else { throw malformed("empty stack at STOP") }
                return value
            case 0x28: markStack.append(stack.count)  // MARK
            case 0x7D: push(.dictionary(PickleDictionary()), depth: 1)  // EMPTY_DICT
            case 0x5D: push(.list(PickleList()), depth: 1)  // EMPTY_LIST
            case 0x29: push(.tuple([]), depth: 1)  // EMPTY_TUPLE
            case 0x4E: push(.none)
            case 0x88: push(.bool(true))
            case 0x89: push(.bool(false))
            case 0x4B: push(.integer(Int(try reader.byte("an int"))))  // BININT1
            case 0x4D: push(.integer(Int(try reader.integer(UInt16.self, "an int"))))  // BININT2
            case 0x4A: push(.integer(Int(try reader.integer(Int32.self, "an int"))))  // BININT
            case 0x8A:  // LONG1
                let count = Int(try reader.byte("a long's length"))
                let bytes = try reader.bytes(count, "a long")
                guard count <= 8 else { throw malformed("an integer wider than 64 bits") }
                var value: UInt64 = 0
                for (i, byte) in bytes.enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
                if count > 0, count < 8, bytes.last! & 0x80 != 0 { value |= ~0 << (8 * UInt64(count)) }
                push(.integer(Int(truncatingIfNeeded: value)))
            case 0x47:  // BINFLOAT, big-endian
                push(.float(Double(bitPattern: UInt64(bigEndian: try reader.integer(UInt64.self, "a float")))))
            case 0x58: push(.string(try string(length: try length(UInt64(try reader.integer(UInt32.self, "a string length"))))))
            case 0x8C: push(.string(try string(length: Int(try reader.byte("a string length")))))
            case 0x8D: push(.string(try string(length: try length(try reader.integer(UInt64.self, "a string length")))))
            case 0x42: push(.bytes(try reader.bytes(try length(UInt64(try reader.integer(UInt32.self, "a bytes length"))), "bytes")))
            case 0x43: push(.bytes(try reader.bytes(Int(try reader.byte("a bytes length")), "bytes")))
            case 0x8E: push(.bytes(try reader.bytes(try length(try reader.integer(UInt64.self, "a bytes length")), "bytes")))
            case 0x71: memo[Int(try reader.byte("a memo index"))] = stack.last  // BINPUT
            case 0x72: memo[Int(try reader.integer(UInt32.self, "a memo index"))] = stack.last  // LONG_BINPUT
            case 0x94: memo[memo.count] = stack.last  // MEMOIZE
            case 0x68, 0x6A:  // BINGET, LONG_BINGET
                let index = opcode == 0x68 ? Int(try reader.byte("a memo index")) : Int(try reader.integer(UInt32.self, "a memo index"))
                guard let value = memo[index] else { throw malformed("memo entry \(index) is missing") }
                stack.append(value)
            case 0x74, 0x85, 0x86, 0x87:  // TUPLE, TUPLE1, TUPLE2, TUPLE3
                var items: [Entry]
                switch opcode {
                case 0x74: items = try popToMark()
                case 0x85: items = [try pop()]
                case 0x86: items = [try pop(), try pop()].reversed()
                default: items = [try pop(), try pop(), try pop()].reversed()
                }
                push(.tuple(items.map(\.value)), depth: try contain(items))
            case 0x6C:  // LIST
                let items = try popToMark()
                let list = PickleList(items.map(\.value))
                list.depth = try contain(items)
                push(.list(list), depth: list.depth)
            case 0x64:  // DICT
                let items = try popToMark()
                let dictionary = PickleDictionary()
                guard items.count % 2 == 0 else { throw malformed("odd number of dict items") }
                for i in stride(from: 0, to: items.count, by: 2) { dictionary.entries.append((try key(items[i].value), items[i + 1].value)) }
                dictionary.depth = try contain(items)
                push(.dictionary(dictionary), depth: dictionary.depth)
            case 0x61, 0x65:  // APPEND, APPENDS
                let items = opcode == 0x61 ? [try pop()] : try popToMark()
                guard case .list(let list)? = stack.last?.value else { throw malformed("APPEND to a non-list") }
                list.depth = try grow(list, by: items, isContained: list.isContained, depth: list.depth)
                list.items.append(contentsOf: items.map(\.value))
            case 0x73, 0x75:  // SETITEM, SETITEMS
                let items = opcode == 0x73 ? [try pop(), try pop()].reversed() : try popToMark()
                guard case .dictionary(let dictionary)? = stack.last?.value, items.count % 2 == 0 else {
                    throw malformed("SETITEMS on a non-dict")
                }
                dictionary.depth = try grow(dictionary, by: items, isContained: dictionary.isContained, depth: dictionary.depth)
                for i in stride(from: 0, to: items.count, by: 2) { dictionary.entries.append((try key(items[i].value), items[i + 1].value)) }
            case 0x63:  // GLOBAL "module\nname\n"
                let module = try line(), name = try line()
                push(try checkGlobal(module, name))
            case 0x93:  // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard case .string(let moduleName) = module.value, case .string(let globalName) = name.value else {
                    throw malformed("STACK_GLOBAL without strings")
                }
                push(try checkGlobal(moduleName, globalName))
            case 0x52:  // REDUCE
                let arguments = try pop(), function = try pop()
                push(try call(function.value, arguments.value), depth: depth(arguments))
            case 0x62:  // BUILD: state for dicts (a state_dict's _metadata) and tensors is not needed
                let state = try pop()
                guard let target = stack.last?.value else { throw malformed("BUILD on an empty stack") }
                switch target {
                case .dictionary, .tensor: break
                default: throw refused("setting the state of a \(target.typeName) (state \(state.value.typeName))")
                }
            case 0x51:  // BINPERSID
                let id = try pop()
                push(try persistentLoad(id.value))
            case 0x30: _ = try pop()  // POP
            case 0x31: _ = try popToMark()  // POP_MARK
            case 0x32:  // DUP
                guard let top = stack.last else { throw malformed("DUP on an empty stack") }
                stack.append(top)
            case 0x81, 0x92: throw refused("object construction (NEWOBJ) is not needed for tensors")
            case 0x69, 0x6F: throw refused("object construction (INST/OBJ) is not needed for tensors")
            default:
                throw malformed(String(format: "unsupported opcode 0x%02x at offset %d", opcode, reader.position - 1))
            }
        }
    }
}
