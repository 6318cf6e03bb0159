import ModelFormats

/// Settings of an HTSR analysis. Defaults are WeightWatcher 0.7.7's (`analyze()`).
public struct HTSROptions: Sendable, Codable, Equatable {
    /// Conv layers: one row per layer with the eigenvalues of all kernel positions pooled (true), or one row per
    /// kernel position (false, WeightWatcher's `pool=False`).
    public var pool = true
    /// Skip layers with fewer eigenvalues (M x rf when pooling, M per slice otherwise).
    public var minEvals = 8
    /// Skip layers with more eigenvalues; 0 means no limit.
    public var maxEvals = 15000
    /// Skip layers whose larger dimension N exceeds this (GPT-2's 50257-row embedding, say).
    public var maxN = 50000
    /// Analyse only layers whose name matches this regular expression (anywhere in the name).
    public var layers: String?
    /// Skip layers whose name matches this regular expression.
    public var exclude: String?
    /// The axis order of conv kernels; nil: the file format's (PyTorch and ONNX files: out, in, k...), and for
    /// arrays of unknown origin (.npy, .npz) a guess from the extents. Each row records which it was.
    public var convLayout: KernelLayout?
    /// How a power-law fit on fewer than ``PowerLawFit/smallSampleCutoff`` eigenvalues chooses xmin.
    public var smallSampleXmin: PowerLawFit.SmallSampleRule = .ksDistance
    /// Eigenvalues at or below this are left out of the power-law fit (WeightWatcher's EVALS_THRESH).
    public var fitThreshold = 1e-5
    /// WeightWatcher's `xmax`: none, force, or leave out the top k eigenvalues.
    public var upperLimit: PowerLawFit.UpperLimit = .none
    /// The law fitted to each tail (WeightWatcher's `fit`: PL, TPL, E_TPL).
    public var fit: PowerLawFit.Distribution = .powerLaw
    /// WeightWatcher's `fix_fingers`: clip-xmax (power law only) or xmin-peak.
    public var fixFingers: PowerLawFit.FingerFix?
    /// Fit a Marchenko-Pastur bulk per layer (``MarchenkoPasturFit``): num_spikes, sigma_mp, mp_q, W_scale,
    /// bulk_min, bulk_max, mp_softrank.
    public var mpFit = false
    /// Eigenvalues below this count toward `weak_rank_loss`.
    public var weakRankTolerance = 1e-6
    /// Worker threads; each holds one tensor at a time. 0 means one per core.
    public var workers = 0
    /// Shuffle every layer's entries and compare ESDs (``Randomization``), WeightWatcher's `randomize`.
    public var randomize = false
    /// Seed of every random choice (the randomisation test's shuffles).
    public var seed: UInt64 = 0
    /// Compute SETOL's ERG condition per layer (``DetX``): the `detX_num`, `detX_val`, `detX_delta` columns.
    public var detX = false
    /// Keep every layer's eigenvalues in its report (for `--save-esd` and `--plot`); off, only the columns stay.
    public var keepEigenvalues = false

    public init() {}

    /// Combinations WeightWatcher accepts and then mishandles, refused before any work starts.
    public func validated() throws(HTSROptionError) {
        if fit != .powerLaw, fixFingers == .clipXmax {
            throw HTSROptionError(option: "--fix-fingers", reason: "clip-xmax refits a power law; it cannot be combined with --fit \(fit.rawValue)")
        }
        if fit != .powerLaw, upperLimit == .force {
            throw HTSROptionError(option: "--xmax", reason: "force renormalises the power law's KS distance; it cannot be combined with --fit \(fit.rawValue)")
        }
    }
}
