import LinearAlgebra
import ModelFormats

/// The matrices whose singular values form a layer's ESD, each with rows >= columns, and the factor its
/// eigenvalues are scaled by (WeightWatcher's conv2d_norm).
struct LayerMatrices {
    var matrices: [Tensor<Double>]
    /// Multiplies every eigenvalue: 1 for dense layers, 1/2 for pooled conv layers (each slice scaled by
    /// sqrt(1/2)), rf/2 for an unpooled kernel position (scaled by sqrt(rf/2)).
    var eigenvalueScale: Double

    init(layer: HTSRLayer, tensor: StoredTensor) {
        let values = tensor.tensor(Double.self)
        let shape = tensor.shape
        switch layer.kind {
        case .dense, .embedding:
            matrices = [values]
            eigenvalueScale = 1
        case .conv1d, .conv2d:
            // As four axes: (out, in, k, 1) or (out, in, kh, kw) slice the trailing pair, (1, k, in, out) or
            // (kh, kw, in, out) the leading pair.
            let channelsFirst = layer.layout != .channelsLast
            let shape4 = shape.count == 4 ? shape : channelsFirst ? shape + [1] : [1] + shape
            let positions = layer.slice.map { [$0.count == 1 ? (channelsFirst ? [$0[0], 0] : [0, $0[0]]) : $0] }
                ?? (0..<(channelsFirst ? shape4[2] : shape4[0])).flatMap { i in
                    (0..<(channelsFirst ? shape4[3] : shape4[1])).map { j in [i, j] }
                }
            matrices = positions.map { position in
                LayerMatrices.slice(values.scalars, shape: shape4, channelsFirst: channelsFirst, i: position[0], j: position[1])
            }
            eigenvalueScale = layer.slice == nil ? 0.5 : Double(layer.rf) / 2
        }
    }

    /// W[:, :, i, j] (channels first) or W[i, j, :, :], as a matrix. Singular values do not depend on orientation,
    /// so no transpose is needed.
    private static func slice(_ values: [Double], shape: [Int], channelsFirst: Bool, i: Int, j: Int) -> Tensor<Double> {
        let (a, b, c, d) = (shape[0], shape[1], shape[2], shape[3])
        if channelsFirst {
            var matrix = [Double](repeating: 0, count: a * b)
            for row in 0..<a {
                for column in 0..<b { matrix[row * b + column] = values[((row * b + column) * c + i) * d + j] }
            }
            return Tensor(shape: [a, b], scalars: matrix)
        }
        let start = (i * b + j) * c * d
        return Tensor(shape: [c, d], scalars: Array(values[start..<(start + c * d)]))
    }
}
