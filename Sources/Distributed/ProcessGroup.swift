import CMPI
import Foundation
import HTSR
import Landscape
import ModelImport
import NeuralNetworks

/// The processes of one run: a single process when started plainly, N ranks when started by `mpirun` or `srun`.
///
/// MPI is initialised only under a launcher (Open MPI's `OMPI_COMM_WORLD_SIZE`, or PMI/PMIx variables that
/// SLURM and other launchers set), so a plain run neither loads nor waits for an MPI runtime and behaves as a single
/// process. Every collective here is called by every rank in the same order; the library's callers keep to that.
///
/// Sums are reduced to rank 0 and broadcast back, so every rank holds the same bits (an allreduce's result may differ
/// by rounding from rank to rank under some algorithms), and eigensolvers fed those sums run identically everywhere.
public final class ProcessGroup: PartialSums, @unchecked Sendable {
    // @unchecked: rank and size are immutable; MPI itself is initialised with MPI_THREAD_FUNNELED and called only
    // from the thread that runs the analysis.

    /// This process's rank, from 0.
    public let rank: Int
    /// How many processes share the run.
    public let size: Int
    private let usesMPI: Bool

    /// The run's processes: MPI's world under a launcher, else this process alone. Initialised on first use.
    public static let world = ProcessGroup()

    /// A group of one process that never calls MPI.
    public static let single = ProcessGroup(single: ())

    private init(single: ()) {
        rank = 0
        size = 1
        usesMPI = false
    }

    private init() {
        guard Self.launchedByMPI else {
            (rank, size, usesMPI) = (0, 1, false)
            return
        }
        var provided: Int32 = 0
        MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided)
        var rank: Int32 = 0, size: Int32 = 0
        MPI_Comm_rank(curvature_mpi_comm_world(), &rank)
        MPI_Comm_size(curvature_mpi_comm_world(), &size)
        (self.rank, self.size, usesMPI) = (Int(rank), Int(size), true)
    }

    /// Whether a launcher started this process as one of several ranks.
    public static var launchedByMPI: Bool {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"].contains { environment[$0] != nil }
    }

    /// Rank 0, the one that prints and writes.
    public var isRoot: Bool { rank == 0 }

    /// This rank's contiguous part of a data set (`DataPart`): as even as can be, the earlier ranks taking one more
    /// sample when the count does not divide.
    public var dataPart: DataPart { DataPart(index: rank, count: size) }

    /// The lowest rank that failed, with its error, when any did; nil when none did. Every rank calls it at the same
    /// point (one message), so a failure on one rank ends every rank cleanly instead of leaving the others waiting.
    public func firstFailure(_ error: (any Error)?) -> (rank: Int, error: (any Error)?)? {
        guard size > 1 else { return error.map { (0, $0) } }
        var flags = [Double](repeating: 0, count: size)
        if error != nil { flags[rank] = 1 }
        guard let first = sum(flags).firstIndex(where: { $0 > 0 }) else { return nil }
        return (first, first == rank ? error : nil)
    }

    /// Every rank's `values` added elementwise, in one message; every rank receives the same bits.
    public func sum(_ values: [Double]) -> [Double] {
        guard usesMPI, size > 1 else { return values }
        var total = [Double](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { send in
            total.withUnsafeMutableBufferPointer { receive in
                _ = MPI_Reduce(send.baseAddress, receive.baseAddress, Int32(values.count), curvature_mpi_double(),
                               curvature_mpi_sum(), 0, curvature_mpi_comm_world())
            }
        }
        total.withUnsafeMutableBufferPointer { buffer in
            _ = MPI_Bcast(buffer.baseAddress, Int32(values.count), curvature_mpi_double(), 0, curvature_mpi_comm_world())
        }
        return total
    }

    /// Rank `root`'s bytes, on every rank.
    public func broadcast(_ data: Data, from root: Int = 0) -> Data {
        guard usesMPI, size > 1 else { return data }
        var count = [Int64(data.count)]
        count.withUnsafeMutableBufferPointer { _ = MPI_Bcast($0.baseAddress, 1, curvature_mpi_int64(), Int32(root), curvature_mpi_comm_world()) }
        var bytes = [UInt8](rank == root ? Array(data) : [UInt8](repeating: 0, count: Int(count[0])))
        bytes.withUnsafeMutableBufferPointer {
            _ = MPI_Bcast($0.baseAddress, Int32(count[0]), curvature_mpi_byte(), Int32(root), curvature_mpi_comm_world())
        }
        return Data(bytes)
    }

    /// Every rank's bytes, in rank order, on rank 0 (empty on the others).
    public func gather(_ data: Data) -> [Data] {
        guard usesMPI, size > 1 else { return [data] }
        var count = Int32(data.count)
        var counts = [Int32](repeating: 0, count: isRoot ? size : 1)
        counts.withUnsafeMutableBufferPointer { receive in
            _ = MPI_Gather(&count, 1, curvature_mpi_int32(), receive.baseAddress, 1, curvature_mpi_int32(), 0, curvature_mpi_comm_world())
        }
        var offsets = [Int32](repeating: 0, count: counts.count)
        for index in counts.indices.dropFirst() { offsets[index] = offsets[index - 1] + counts[index - 1] }
        var received = [UInt8](repeating: 0, count: isRoot ? Int(counts.reduce(0, +)) : 1)
        let sent = [UInt8](data)
        sent.withUnsafeBufferPointer { send in
            received.withUnsafeMutableBufferPointer { receive in
                _ = MPI_Gatherv(send.baseAddress, count, curvature_mpi_byte(), receive.baseAddress, counts, offsets,
                                curvature_mpi_byte(), 0, curvature_mpi_comm_world())
            }
        }
        guard isRoot else { return [] }
        return counts.indices.map { Data(received[Int(offsets[$0])..<Int(offsets[$0] + counts[$0])]) }
    }

    /// Waits until every rank has reached this point.
    public func barrier() {
        guard usesMPI, size > 1 else { return }
        MPI_Barrier(curvature_mpi_comm_world())
    }

    /// Ends every rank at once (a failure on one rank must not leave the others waiting in a collective).
    public func abort(status: Int32) -> Never {
        if usesMPI, size > 1 { MPI_Abort(curvature_mpi_comm_world(), status) }
        exit(status)
    }

    /// Ends MPI cleanly at the end of a run; a no-op without it.
    public func finish() {
        if usesMPI { MPI_Finalize() }
    }
}

extension ProcessGroup {
    /// HTSR's layers dealt over the ranks (`HTSRWorkShare`): each rank's spectra go to rank 0, which sends all of
    /// them back to every rank, so each builds the same report. Nil for a single process.
    public var htsrShare: HTSRWorkShare? {
        guard size > 1 else { return nil }
        return HTSRWorkShare(index: rank, count: size) { [self] local in
            let encoder = JSONEncoder()
            let parts = gather((try? encoder.encode(local)) ?? Data())
            var all: [Int: LayerSpectrum] = [:]
            for part in parts {
                guard let decoded = try? JSONDecoder().decode([Int: LayerSpectrum].self, from: part) else { continue }
                all.merge(decoded) { first, _ in first }
            }
            let merged = broadcast(isRoot ? ((try? encoder.encode(all)) ?? Data()) : Data())
            return (try? JSONDecoder().decode([Int: LayerSpectrum].self, from: merged)) ?? [:]
        }
    }
}

extension ProcessGroup {
    /// A landscape's points dealt over the ranks (`LandscapeWorkShare`): each round, every rank's packed points go
    /// to rank 0. Nil for a single process.
    public var landscapeShare: LandscapeWorkShare? {
        guard size > 1 else { return nil }
        return LandscapeWorkShare(index: rank, count: size) { [self] packed in
            gather(packed.withUnsafeBytes { Data($0) }).map { part in part.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) } }
        }
    }
}
