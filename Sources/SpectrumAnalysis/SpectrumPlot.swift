import Foundation
import Plotting
import Spectra

extension LinePlot {
    /// The spectral density as a curve, with resolved outlier eigenvalues marked: the plot `curvature spectrum
    /// --plot` writes. With `logY`, the density axis is logarithmic (values below 1e-12 of the peak are dropped).
    public static func spectralDensity(
        _ density: SpectralDensity, method: String, outliers: [Double] = [], logY: Bool = false, title: String? = nil
    ) -> LinePlot {
        let peak = density.values.max() ?? 0
        let kept = zip(density.grid, density.values).filter { !logY || $0.1 > 1e-12 * peak }
        let xLabel = density.logSpectrum ? "log10(|eigenvalue| + epsilon)" : "eigenvalue"
        return LinePlot(
            title: title ?? "Spectral density (\(method))", xLabel: xLabel, yLabel: logY ? "density (log scale)" : "density",
            logY: logY, series: [.init(name: method, x: kept.map(\.0), y: kept.map(\.1))],
            markers: density.logSpectrum ? [] : outliers.map { .init(x: $0, label: String(format: "%.3g", $0)) })
    }
}
