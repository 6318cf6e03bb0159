import Foundation

/// Process-wide allocator settings for tensor workloads.
///
/// Every forward and backward pass allocates and frees the same large arrays. By default glibc serves blocks above
/// its mmap threshold (128 KiB, rising adaptively) with fresh mappings and unmaps them on free, so every pass pays
/// page faults and kernel zeroing for all of them again: a third of a small CNN's evaluation time. The library never
/// changes this by itself (it is the process's choice); executables call ``keepFreedBlocks()`` once at start, as the
/// `curvature` tool and the benchmarks do.
public enum MemoryReuse {
    /// Serves every block from the heap (no mmap) and keeps freed memory there instead of returning it to the kernel
    /// (no trimming: a transformer's Hessian-vector product frees several GiB at its end, and with a 1 GiB trim
    /// threshold every product faulted them in again, 13% of a ViT run's time in the kernel's page clearing).
    /// Returns whether glibc accepted every setting; elsewhere it does nothing and returns false.
    @discardableResult
    public static func keepFreedBlocks() -> Bool {
        #if canImport(Glibc)
        // mallopt is declared in <malloc.h>, which Glibc's module does not export.
        typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return false }
        let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
        // M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX
        let (trimThreshold, topPad, mmapThreshold, mmapMax): (Int32, Int32, Int32, Int32) = (-1, -2, -3, -4)
        // No mmap at all: blocks above the largest threshold (a CNN's im2col matrices) would still be mapped afresh
        // and faulted in on every pass. glibc still falls back to mmap when the heap cannot grow. A trim threshold
        // of -1 is SIZE_MAX to glibc (its parameter is a size_t): the heap is never trimmed.
        return [mallopt(mmapThreshold, 32 << 20), mallopt(mmapMax, 0), mallopt(trimThreshold, -1), mallopt(topPad, 64 << 20)]
            .allSatisfy { $0 == 1 }
        #else
        return false
        #endif
    }
}
