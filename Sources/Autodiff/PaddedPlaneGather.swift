import LinearAlgebra

/// im2col and col2im on small images (ResNet's 8 x 8 and 4 x 4 stages at CIFAR size, the landscape CNNs' 4 x 4) by
/// a table: each image plane is copied into a zero-bordered plane once, and every window element is one load from it
/// at a precomputed index. The row-by-row copies of the general path are 4 to 8 elements long on such maps, so their
/// library calls and zero fix-ups cost more than the data they move (a third of a *wide* landscape point's time).
struct PaddedPlaneGather {
    let height: Int, width: Int
    /// The padded plane's extent: the image with `padding` zeros on each side.
    let paddedHeight: Int, paddedWidth: Int
    let top: Int, left: Int
    /// Window elements per row of the window matrix (Ho Wo) and rows per channel (kh kw).
    let positions: Int, offsets: Int
    /// For row r = i kw + j and output position t, the padded-plane index of the element it reads: `table[r L + t]`.
    private let table: [Int]

    /// The largest padded plane this path takes (in elements): beyond it rows are long enough for the general path.
    static var largestPlane: Int { 256 }

    /// Nil when the padded plane is larger than ``largestPlane``.
    init?(_ geometry: WindowGeometry, height h: Int, width w: Int) {
        let (oh, ow) = geometry.outputSize(height: h, width: w)
        let (hp, wp) = (h + 2 * geometry.padding.0, w + 2 * geometry.padding.1)
        guard hp * wp <= Self.largestPlane, oh > 0, ow > 0, h > 0, w > 0 else { return nil }
        (height, width, paddedHeight, paddedWidth, top, left) = (h, w, hp, wp, geometry.padding.0, geometry.padding.1)
        (positions, offsets) = (oh * ow, geometry.kernel.0 * geometry.kernel.1)
        var table: [Int] = []
        table.reserveCapacity(offsets * positions)
        for i in 0..<geometry.kernel.0 {
            for j in 0..<geometry.kernel.1 {
                for y in 0..<oh {
                    for z in 0..<ow {
                        table.append((y * geometry.stride.0 + i * geometry.dilation.0) * wp + z * geometry.stride.1 + j * geometry.dilation.1)
                    }
                }
            }
        }
        self.table = table
    }

    /// ``WindowGeometry/im2col(_:samples:channels:height:width:into:rowStride:sampleStride:)`` by the table.
    func im2col<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, samples: Int, channels c: Int,
                                      into target: UnsafeMutablePointer<Scalar>, rowStride: Int, sampleStride: Int) {
        let padded = UnsafeMutablePointer<Scalar>.allocate(capacity: paddedHeight * paddedWidth)
        defer { padded.deallocate() }
        padded.initialize(repeating: 0, count: paddedHeight * paddedWidth)  // the border stays zero
        table.withUnsafeBufferPointer { table in
            for sample in 0..<samples {
                var row = target + sample * sampleStride
                for channel in 0..<c {
                    let plane = x + (sample * c + channel) * height * width
                    for y in 0..<height {
                        for z in 0..<width { padded[(y + top) * paddedWidth + left + z] = plane[y * width + z] }
                    }
                    var index = table.baseAddress!
                    for _ in 0..<offsets {
                        for t in 0..<positions { row[t] = padded[index[t]] }
                        index += positions
                        row += rowStride
                    }
                }
            }
        }
    }

    /// ``WindowGeometry/col2im(_:samples:channels:height:width:into:rowStride:sampleStride:)`` by the table: each
    /// plane's window elements add into a zeroed padded plane, whose interior is the image.
    func col2im<Scalar: TensorScalar>(_ columns: UnsafePointer<Scalar>, samples: Int, channels c: Int,
                                      into target: UnsafeMutablePointer<Scalar>, rowStride: Int, sampleStride: Int) {
        let padded = UnsafeMutablePointer<Scalar>.allocate(capacity: paddedHeight * paddedWidth)
        defer { padded.deallocate() }
        table.withUnsafeBufferPointer { table in
            for sample in 0..<samples {
                var row = columns + sample * sampleStride
                for channel in 0..<c {
                    padded.initialize(repeating: 0, count: paddedHeight * paddedWidth)
                    var index = table.baseAddress!
                    for _ in 0..<offsets {
                        for t in 0..<positions { padded[index[t]] += row[t] }
                        index += positions
                        row += rowStride
                    }
                    let plane = target + (sample * c + channel) * height * width
                    for y in 0..<height {
                        for z in 0..<width { plane[y * width + z] = padded[(y + top) * paddedWidth + left + z] }
                    }
                }
            }
        }
    }
}
