// The umbrella module: `import Curvature` brings in every public module of the toolkit.
@_exported import LinearAlgebra
@_exported import ModelFormats
@_exported import HTSR
@_exported import Autodiff
@_exported import NeuralNetworks
@_exported import ModelImport
@_exported import Spectra
@_exported import SpectrumAnalysis
@_exported import Plotting
@_exported import Reporting
@_exported import Landscape
@_exported import Distributed
