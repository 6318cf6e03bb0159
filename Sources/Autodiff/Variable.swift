import Foundation
import LinearAlgebra

/// A tensor in a define-by-run computation: its value and, when it depends on something being differentiated,
/// the node that produced it.
///
/// Backward rules are written with the same operations, so while a gradient is computed with `createGraph: true`
/// the gradient is itself a `Variable` on the tape and can be differentiated again (PyTorch's `create_graph`):
/// that is how Hessian-vector products are formed, `H v = grad(<grad f(x), v>)`.
///
/// A variable may also carry a forward-mode `tangent`, its directional derivative along the tangents given to the
/// leaves. Every operation propagates tangents as it computes its value, whether or not it records a node, so
/// tangents flow through a backward pass too: the gradient of a loss whose parameters carry tangents `v` carries the
/// tangent `H v` (forward-over-reverse, Pearlmutter's R-operator), and a forward pass alone gives `J v`.
public struct Variable<Scalar: TensorScalar>: @unchecked Sendable {
    // @unchecked: `node` is an immutable reference after construction; the graph is never mutated once built.
    public let value: Tensor<Scalar>
    let node: Node<Scalar>?
    /// The directional derivative of `value` (forward mode); nil means zero.
    public let tangent: Tensor<Scalar>?
    /// This variable's place on the active ``Linearization``, when it depends on one of its leaves.
    let slot: Int?

    /// A constant: no derivative flows into it.
    public init(_ value: Tensor<Scalar>) {
        self.value = value
        node = nil
        tangent = nil
        slot = nil
    }

    init(value: Tensor<Scalar>, node: Node<Scalar>?, tangent: Tensor<Scalar>? = nil, slot: Int? = nil) {
        self.value = value
        self.node = node
        self.tangent = tangent
        self.slot = slot
    }

    /// Whether a tangent flows into this variable: it carries one, or it has a place on a linearization.
    public var carriesTangent: Bool { tangent != nil || slot != nil }

    /// A leaf to differentiate with respect to, with an optional forward-mode tangent (its direction).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func differentiable(_ value: Tensor<Scalar>, tangent: Tensor<Scalar>? = nil) -> Variable {
        precondition(tangent.map { $0.shape == value.shape } ?? true, "tangent of shape \(tangent?.shape ?? []) for a value of shape \(value.shape)")
        return Variable(value: value, node: Node(parents: [], backward: { _ in [] }), tangent: tangent)
    }

    /// A leaf that carries a forward-mode tangent but records no graph: for Jacobian-vector products by a forward
    /// pass alone.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func dual(_ value: Tensor<Scalar>, tangent: Tensor<Scalar>) -> Variable {
        precondition(tangent.shape == value.shape, "tangent of shape \(tangent.shape) for a value of shape \(value.shape)")
        return Variable(value: value, node: nil, tangent: tangent)
    }

    public var shape: [Int] { value.shape }
    /// Whether derivatives flow through this variable.
    public var isDifferentiable: Bool { node != nil }
    /// The same value, cut from the graph and from forward-mode tangents.
    public var detached: Variable { Variable(value) }
}

/// One recorded operation: its differentiable parents and how to map the gradient of its output to theirs.
final class Node<Scalar: TensorScalar> {
    let parents: [Variable<Scalar>]
    /// Gradients for each parent (nil: none), written with differentiable operations.
    let backward: (Variable<Scalar>) -> [Variable<Scalar>?]
    /// Creation order: a node is always created after its parents, so decreasing order is a topological order.
    let order: Int

    init(parents: [Variable<Scalar>], backward: @escaping (Variable<Scalar>) -> [Variable<Scalar>?]) {
        self.parents = parents
        self.backward = backward
        order = NodeCounter.next()
    }
}

/// A process-wide, thread-safe creation counter.
enum NodeCounter {
    private static let counter = AtomicCounter()
    static func next() -> Int { counter.increment() }
}

final class AtomicCounter: @unchecked Sendable {
    // @unchecked: every access to `value` holds `lock`.
    private var value = 0
    private let lock = NSLock()
    func increment() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}

/// Whether operations currently record nodes. Off while a first-order gradient is computed without
/// `createGraph`, so plain gradients build no second graph.
enum Recording {
    @TaskLocal static var isOn = true
}

extension Variable {
    /// Whether an operation on this variable records a node: recording is on and the variable is differentiable.
    /// Operations that keep extra state for their derivative (argmax positions) skip it otherwise.
    var needsGraph: Bool { Recording.isOn && isDifferentiable }

    /// The result of an operation: records a node when recording is on and some input is differentiable, and
    /// carries the tangent `tangent(parents' tangents)` when some input has one (nil entries are zero tangents).
    /// The tangent rule is the operation's Jacobian applied to the inputs' tangents, so it is linear in each.
    /// While a ``Linearization`` is active, the rule is recorded too, so that it can be replayed for other tangents.
    /// `known` is the tangent when the caller has it already (the rule would give the same).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func make(
        _ value: Tensor<Scalar>, parents: [Variable], known: Tensor<Scalar>? = nil,
        tangent rule: @escaping ([Tensor<Scalar>?]) -> Tensor<Scalar>, backward: @escaping (Variable) -> [Variable?]
    ) -> Variable {
        let tangent = parents.contains { $0.tangent != nil } ? known ?? rule(parents.map(\.tangent)) : nil
        var slot: Int?
        if parents.contains(where: { $0.slot != nil }), let tape = Linearizing.tape as? Linearization<Scalar> {
            slot = tape.record(parents: parents.map(\.slot), rule: rule)
        }
        guard Recording.isOn, parents.contains(where: \.isDifferentiable) else {
            return Variable(value: value, node: nil, tangent: tangent, slot: slot)
        }
        return Variable(value: value, node: Node(parents: parents, backward: backward), tangent: tangent, slot: slot)
    }

    /// An operation that is linear in its one input (a reshape, a slice, im2col): its tangent is `linear(tangent)`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func makeLinear(
        _ value: Tensor<Scalar>, _ linear: @escaping (Tensor<Scalar>) -> Tensor<Scalar>, backward: @escaping (Variable) -> [Variable?]
    ) -> Variable {
        Variable.make(value, parents: [self], tangent: { linear($0[0]!) }, backward: backward)
    }

    /// The sum of the tangent terms that are present (at least one is).
    static func sum(_ terms: Tensor<Scalar>?...) -> Tensor<Scalar> {
        let present = terms.compactMap { $0 }
        return present.dropFirst().reduce(present[0], +)
    }
}

/// Gradients of a scalar `output` with respect to `inputs` (which must be differentiable leaves or intermediate
/// variables), by reverse accumulation over the recorded graph. An input the output does not depend on gets zeros.
///
/// - Parameters:
///   - output: a scalar variable.
///   - inputs: the variables to differentiate with respect to.
///   - createGraph: record the backward computation too, so the returned gradients can be differentiated.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func gradients<Scalar>(
    of output: Variable<Scalar>, withRespectTo inputs: [Variable<Scalar>], createGraph: Bool = false
) -> [Variable<Scalar>] {
    precondition(output.value.count == 1, "gradients(of:) needs a scalar output, got shape \(output.shape)")
    guard let root = output.node else { return inputs.map { Variable(Tensor(zeros: $0.shape)) } }
    // Nodes reachable from the output, processed in decreasing creation order (a topological order).
    var reachable: [ObjectIdentifier: Node<Scalar>] = [:]
    var stack = [root]
    while let node = stack.popLast() {
        guard reachable[ObjectIdentifier(node)] == nil else { continue }
        reachable[ObjectIdentifier(node)] = node
        for parent in node.parents { if let p = parent.node { stack.append(p) } }
    }
    let ordered = reachable.values.sorted { $0.order > $1.order }
    var accumulated: [ObjectIdentifier: Variable<Scalar>] = [ObjectIdentifier(root): Variable(Tensor(repeating: 1, shape: output.shape))]
    Recording.$isOn.withValue(createGraph) {
        for node in ordered {
            guard let upstream = accumulated[ObjectIdentifier(node)] else { continue }
            let parentGradients = node.backward(upstream)
            for (parent, gradient) in zip(node.parents, parentGradients) {
                guard let parentNode = parent.node, let gradient else { continue }
                let key = ObjectIdentifier(parentNode)
                accumulated[key] = accumulated[key].map { $0 + gradient } ?? gradient
            }
        }
    }
    return inputs.map { input in
        input.node.flatMap { accumulated[ObjectIdentifier($0)] } ?? Variable(Tensor(zeros: input.shape))
    }
}

/// The linearised computation: every operation's tangent rule, recorded while a computation runs, so that the
/// tangents of all its variables can be recomputed for new tangents of its leaves without recomputing any value.
///
/// A block of Hessian-vector products by forward-over-reverse runs the forward and backward passes once under a
/// linearization and then replays only the tangent rules for each vector. The rules hold the values they need (the
/// forward activations, the backward pass's adjoints), so the replay costs the tangent arithmetic alone.
public final class Linearization<Scalar: TensorScalar>: @unchecked Sendable {
    // @unchecked: built by one computation, then only read by `replay`; never shared while it is being built.
    private struct Step {
        let parents: [Int?]
        let rule: ([Tensor<Scalar>?]) -> Tensor<Scalar>
    }
    /// One entry per slot: nil for a leaf, the step that computes it otherwise.
    private var steps: [Step?] = []

    public init() {}

    /// A leaf with a place on this linearization: its tangent is given to ``replay(leaves:outputs:)``.
    public func leaf(_ value: Tensor<Scalar>) -> Variable<Scalar> {
        steps.append(nil)
        return Variable(value: value, node: Variable.differentiable(value).node, slot: steps.count - 1)
    }

    fileprivate func record(parents: [Int?], rule: @escaping ([Tensor<Scalar>?]) -> Tensor<Scalar>) -> Int {
        steps.append(Step(parents: parents, rule: rule))
        return steps.count - 1
    }

    /// The tangents of `outputs` (zeros for a variable no leaf reaches) when `leaves` carry the given tangents.
    /// Only the steps the outputs depend on run (the loss's own tangent, say, is never formed), and each
    /// intermediate tangent is released after its last use.
    public func replay(leaves: [(Variable<Scalar>, Tensor<Scalar>)], outputs: [Variable<Scalar>]) -> [Tensor<Scalar>] {
        var needed = [Bool](repeating: false, count: steps.count)
        for output in outputs { if let slot = output.slot { needed[slot] = true } }
        for index in steps.indices.reversed() where needed[index] {
            for parent in steps[index]?.parents ?? [] { if let parent { needed[parent] = true } }
        }
        var lastUse = [Int](repeating: -1, count: steps.count)
        for (index, step) in steps.enumerated() where needed[index] {
            for parent in step?.parents ?? [] { if let parent { lastUse[parent] = index } }
        }
        for output in outputs { if let slot = output.slot { lastUse[slot] = steps.count } }
        var tangents = [Tensor<Scalar>?](repeating: nil, count: steps.count)
        for (leaf, tangent) in leaves {
            precondition(leaf.slot != nil && steps[leaf.slot!] == nil, "replay: a leaf that is not this linearization's")
            tangents[leaf.slot!] = tangent
        }
        for (index, step) in steps.enumerated() {
            guard let step else { continue }
            let inputs = step.parents.map { $0.flatMap { tangents[$0] } }
            if needed[index] && inputs.contains(where: { $0 != nil }) { tangents[index] = step.rule(inputs) }
            for parent in step.parents { if let parent, lastUse[parent] == index { tangents[parent] = nil } }
        }
        return outputs.map { output in output.slot.flatMap { tangents[$0] } ?? Tensor(zeros: output.shape) }
    }

    /// Runs `body` with this linearization recording every operation on its leaves.
    public func recording<Result>(_ body: () throws -> Result) rethrows -> Result {
        try Linearizing.$tape.withValue(self, operation: body)
    }
}

/// The linearization operations record on, if any.
enum Linearizing {
    @TaskLocal static var tape: (AnyObject & Sendable)?
}
