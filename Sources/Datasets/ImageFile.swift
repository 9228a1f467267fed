internal import CImageDecode
import Foundation

/// A decoded photo: `height` rows of `width` pixels of `channels` bytes (1 grey, 3 RGB),
/// row-major, channels interleaved.
public struct DecodedImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * channels, "\(pixels.count) bytes for \(width)x\(height)x\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }
}

/// JPEG and PNG files decoded through Debian's libjpeg-turbo and libpng (`CImageDecode`), and
/// turned into a model's input.
public enum ImageFile {
    /// Decodes the JPEG or PNG at `path` (told apart by their signatures, not by the name).
    /// Errors name the file: missing, empty, not JPEG or PNG, or the decoder's message
    /// (corrupt or truncated data).
    public static func decode(path: String) throws -> DecodedImage {
        guard let data = FileManager.default.contents(atPath: path) else { throw DatasetError(file: path, "cannot read the file") }
        return try decode([UInt8](data), file: path)
    }

    public static func decode(_ bytes: [UInt8], file: String) throws -> DecodedImage {
        if bytes.isEmpty { throw DatasetError(file: file, "empty file (0 bytes)") }
        let isJPEG = bytes.starts(with: [0xFF, 0xD8, 0xFF])
        let isPNG = bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        guard isJPEG || isPNG else { throw DatasetError(file: file, "not a JPEG or PNG image") }
        var image = prunelab_image()
        let status = bytes.withUnsafeBufferPointer { b in
            isJPEG ? prunelab_decode_jpeg(b.baseAddress, b.count, &image) : prunelab_decode_png(b.baseAddress, b.count, &image)
        }
        defer { prunelab_image_free(&image) }
        guard status == 0, let pixels = image.pixels else {
            let message = withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            throw DatasetError(file: file, "cannot decode the \(isJPEG ? "JPEG" : "PNG"): \(message)")
        }
        let n = Int(image.width) * Int(image.height) * Int(image.channels)
        return DecodedImage(
            width: Int(image.width), height: Int(image.height), channels: Int(image.channels),
            pixels: Array(UnsafeBufferPointer(start: pixels, count: n)))
    }

    /// The image as a model input of per-sample shape `[C, H, W]` (channels first), scaled to
    /// [0, 1] by dividing by 255 as the IDX and HDF5 readers do.
    ///
    /// Channels: RGB to grey (C = 1) by ITU-R 601-2 luma, `(19595 R + 38470 G + 7471 B + 2^15) >> 16`
    /// (Pillow's `convert("L")`); grey to RGB (C = 3) by repeating it. Size: unchanged when it
    /// matches; otherwise each channel is resampled separably to H x W with area averaging
    /// (each output pixel the mean of the input area it covers, Pillow's `BOX` filter) when
    /// shrinking an axis and bilinear interpolation (pixel centres aligned) when enlarging it.
    /// Aspect ratio is not kept.
    public static func modelInput(_ image: DecodedImage, shape: [Int]) -> [Float] {
        precondition(shape.count == 3 && (shape[0] == 1 || shape[0] == 3), "image models take [1 or 3, H, W], got \(shape)")
        let c = shape[0], h = shape[1], w = shape[2]
        let planes = channelPlanes(image, channels: c)
        var out: [Float] = []
        out.reserveCapacity(c * h * w)
        for plane in planes {
            let rows = Resample.axis(plane, count: image.height, stride: image.width, lines: image.width, to: h, transpose: false)
            let resized = Resample.axis(rows, count: image.width, stride: 1, lines: h, to: w, transpose: true)
            out += resized.map { $0 / 255 }
        }
        return out
    }

    /// One float plane per model channel, in 0...255.
    static func channelPlanes(_ image: DecodedImage, channels: Int) -> [[Float]] {
        let n = image.width * image.height, p = image.pixels, k = image.channels
        if channels == k { return (0..<k).map { ch in (0..<n).map { Float(p[$0 * k + ch]) } } }
        if channels == 1 {
            let grey = (0..<n).map { i -> Float in
                let r = Int(p[3 * i]), g = Int(p[3 * i + 1]), b = Int(p[3 * i + 2])
                return Float((19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16)
            }
            return [grey]
        }
        let grey = (0..<n).map { Float(p[$0]) }
        return [grey, grey, grey]
    }
}

/// Separable resampling of one axis (`ImageFile.modelInput`).
enum Resample {
    /// Resamples a plane along one axis: `lines` lines of `count` samples each, sample i of line
    /// l at `l + i * stride` (columns) or `l * count + i` (rows, `transpose`), to `target`
    /// samples per line; the result is row-major `[target, lines]` for columns and
    /// `[lines, target]` for rows.
    static func axis(_ plane: [Float], count: Int, stride: Int, lines: Int, to target: Int, transpose: Bool) -> [Float] {
        let weights = self.weights(from: count, to: target)
        var out = [Float](repeating: 0, count: lines * target)
        for l in 0..<lines {
            for (j, taps) in weights.enumerated() {
                var sum: Double = 0
                for (i, wt) in taps { sum += wt * Double(transpose ? plane[l * count + i] : plane[l + i * stride]) }
                out[transpose ? l * target + j : j * lines + l] = Float(sum)
            }
        }
        return out
    }

    /// For each output sample, the input samples and weights it takes: identity when the sizes
    /// match, area coverage when shrinking, bilinear when enlarging.
    static func weights(from n: Int, to m: Int) -> [[(Int, Double)]] {
        if n == m { return (0..<n).map { [($0, 1)] } }
        let scale = Double(n) / Double(m)
        return (0..<m).map { j in
            if scale > 1 {
                let lo = Double(j) * scale, hi = lo + scale
                return (Int(lo)..<min(n, Int(hi.rounded(.up)))).map { i in
                    (i, (min(hi, Double(i + 1)) - max(lo, Double(i))) / scale)
                }.filter { $0.1 > 0 }
            }
            let x = min(max((Double(j) + 0.5) * scale - 0.5, 0), Double(n - 1))
            let i0 = Int(x), i1 = min(i0 + 1, n - 1), f = x - Double(i0)
            return i0 == i1 ? [(i0, 1)] : [(i0, 1 - f), (i1, f)]
        }
    }
}
