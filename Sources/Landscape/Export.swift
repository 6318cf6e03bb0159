import Foundation

/// How a grid's surface height is drawn in ParaView: a quantity, optionally as Li et al.'s `log(z + 0.1)`, and
/// optionally clipped at `maximum` (their `zmax`), so a few huge losses at the corners do not flatten the basin.
public struct SurfaceHeight: Sendable, Equatable {
    public var quantity: String
    public var logarithmic: Bool
    public var maximum: Double?

    public init(quantity: String = "loss", logarithmic: Bool = false, maximum: Double? = nil) {
        self.quantity = quantity
        self.logarithmic = logarithmic
        self.maximum = maximum
    }

    func z(_ value: Double) -> Double {
        guard value.isFinite else { return 0 }
        var z = logarithmic ? Foundation.log(value + 0.1) : value
        if let maximum { z = min(z, maximum) }
        return z.isFinite ? z : 0
    }
}

/// Text serialisations of a grid: long-form CSV and ParaView's ASCII XML formats.
extension LandscapeGrid {
    /// One row per point in flat order (y outer): `x[,y],quantity...`, full precision, NaN for points not computed.
    public func csv() -> String {
        let header = ["x"] + (y.isEmpty ? [] : ["y"]) + quantities
        var lines = [header.joined(separator: ",")]
        lines.reserveCapacity(pointCount + 1)
        for index in 0..<pointCount {
            let (a, b) = coordinates(index)
            let cells = [a] + (y.isEmpty ? [] : [b]) + values.map { $0[index] }
            lines.append(cells.map(Self.number).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A VTK StructuredGrid (.vts): an nx x ny x 1 lattice of points (a, b, height), every quantity as point data.
    /// VTK's ASCII reader takes no NaN, so points without a finite value get 0 there and `valid` = 0.
    public func vts(height: SurfaceHeight = SurfaceHeight()) -> String {
        let extent = "0 \(x.count - 1) 0 \(max(1, y.count) - 1) 0 0"
        return """
            <?xml version="1.0"?>
            <VTKFile type="StructuredGrid" version="0.1" byte_order="LittleEndian">
              <StructuredGrid WholeExtent="\(extent)">
                <Piece Extent="\(extent)">
            \(pointData(height))\(pointsArray(height))    </Piece>
              </StructuredGrid>
            </VTKFile>

            """
    }

    /// VTK PolyData (.vtp) as Li et al. write it: the points (a, b, height), one quad per grid cell (i, i+1, i+nx+1,
    /// i+nx), or a polyline for a 1-D slice, and every quantity as point data.
    public func vtp(height: SurfaceHeight = SurfaceHeight()) -> String {
        let nx = x.count, ny = max(1, y.count)
        var connectivity: [Int] = [], offsets: [Int] = []
        if y.isEmpty {
            connectivity = Array(0..<nx)
            offsets = [nx]
        } else {
            for j in 0..<(ny - 1) {
                for i in 0..<(nx - 1) {
                    let corner = j * nx + i
                    connectivity += [corner, corner + 1, corner + nx + 1, corner + nx]
                    offsets.append(connectivity.count)
                }
            }
        }
        let cells = y.isEmpty ? "Lines" : "Polys"
        let cellCount = offsets.count
        return """
            <?xml version="1.0"?>
            <VTKFile type="PolyData" version="0.1" byte_order="LittleEndian">
              <PolyData>
                <Piece NumberOfPoints="\(pointCount)" NumberOfVerts="0" NumberOfLines="\(y.isEmpty ? cellCount : 0)" NumberOfStrips="0" NumberOfPolys="\(y.isEmpty ? 0 : cellCount)">
            \(pointData(height))\(pointsArray(height))      <\(cells)>
                    <DataArray type="Int64" Name="connectivity" format="ascii">\(connectivity.map(String.init).joined(separator: " "))</DataArray>
                    <DataArray type="Int64" Name="offsets" format="ascii">\(offsets.map(String.init).joined(separator: " "))</DataArray>
                  </\(cells)>
                </Piece>
              </PolyData>
            </VTKFile>

            """
    }

    private func pointData(_ height: SurfaceHeight) -> String {
        var s = "      <PointData Scalars=\"\(escaped(height.quantity))\">\n"
        for (name, list) in zip(quantities, values) {
            s += "        <DataArray type=\"Float64\" Name=\"\(escaped(name))\" format=\"ascii\">"
            s += list.map { Self.number($0.isFinite ? $0 : 0) }.joined(separator: " ") + "</DataArray>\n"
        }
        let heightValues = self[height.quantity] ?? values[0]
        s += "        <DataArray type=\"UInt8\" Name=\"valid\" format=\"ascii\">"
        s += heightValues.map { $0.isFinite ? "1" : "0" }.joined(separator: " ") + "</DataArray>\n"
        return s + "      </PointData>\n"
    }

    private func pointsArray(_ height: SurfaceHeight) -> String {
        let heightValues = self[height.quantity] ?? values[0]
        let points = (0..<pointCount).map { index -> String in
            let (a, b) = coordinates(index)
            return "\(Self.number(a)) \(Self.number(b)) \(Self.number(height.z(heightValues[index])))"
        }
        return "      <Points>\n        <DataArray type=\"Float64\" NumberOfComponents=\"3\" format=\"ascii\">" +
            points.joined(separator: " ") + "</DataArray>\n      </Points>\n"
    }

    /// The shortest text that reads back as the same Double; NaN as "nan", as NumPy and pandas write it.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        return "\(value)"
    }

    private func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
