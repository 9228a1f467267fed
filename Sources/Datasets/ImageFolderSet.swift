import Foundation
import TensorCore

/// Loads an image classification split from folders of JPEG and PNG files, one subfolder per
/// class, as torchvision's `ImageFolder` reads them: `dir/train/<class>/*.png` and
/// `dir/test/<class>/*.jpg`.
///
/// - Classes: the train folder's subfolders sorted by name (Unicode code points, as Python's
///   `sorted`); class index i is the i-th name. Every test class folder must be one of them.
/// - Files: those directly in a class folder whose extension is `.png`, `.jpg` or `.jpeg` (any
///   case), sorted by name; other files, and hidden files and folders, are skipped. A class folder without
///   such a file is an error.
/// - Pixels: decoded by `ImageFile` (libjpeg-turbo, libpng) and turned into model input by
///   `ImageFile.modelInput`, the conversion `prunelab predict` uses: bytes / 255, channels
///   first, grey ▶ RGB by repeating and RGB ▶ grey by ITU-R 601-2 luma, and resized (area
///   averaging when shrinking, bilinear when enlarging) when `size` is given.
/// - `size` `[H, W]` absent: every image must have the first image's size. `channels` absent:
///   every image must have the first image's channel count (1 grey or 3 RGB).
///
/// Errors are `DatasetError`s naming the folder or file: missing folder, no class folders,
/// empty class folder, unreadable or undecodable image, a size or channel count that differs.
public enum ImageFolderSet {
    public static let extensions: Set<String> = ["png", "jpg", "jpeg"]

    /// Loads `directory/train` and `directory/test`.
    public static func load(directory: String, size: [Int]? = nil, channels: Int? = nil) throws -> DataSplit {
        let trainDir = (directory as NSString).appendingPathComponent("train")
        let testDir = (directory as NSString).appendingPathComponent("test")
        let classes = try classFolders(trainDir)
        let testClasses = try classFolders(testDir)
        if let stray = testClasses.first(where: { !classes.contains($0) }) {
            throw DatasetError(
                file: (testDir as NSString).appendingPathComponent(stray),
                "class folder not in the training set (train classes: \(classes.joined(separator: ", ")))")
        }
        var shape: [Int]? = channels.flatMap { c in size.map { [c] + $0 } }
        let fixed = (size: size, channels: channels)
        let train = try read(trainDir, classes: classes, shape: &shape, fixed: fixed)
        let test = try read(testDir, classes: classes, shape: &shape, fixed: fixed)
        return DataSplit(
            train: Dataset(
                name: URL(fileURLWithPath: directory).lastPathComponent + ":train", images: train.0, labels: train.1,
                classCount: max(2, classes.count)),
            test: Dataset(
                name: URL(fileURLWithPath: directory).lastPathComponent + ":test", images: test.0, labels: test.1,
                classCount: max(2, classes.count)))
    }

    /// The class subfolders of `folder`, sorted by code points.
    static func classFolders(_ folder: String) throws -> [String] {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw DatasetError(file: folder, "no such folder; an image set is dir/train/<class>/*.png and dir/test/<class>/*.png")
        }
        let names = try entries(folder).filter { name in
            var d: ObjCBool = false
            return fm.fileExists(atPath: (folder as NSString).appendingPathComponent(name), isDirectory: &d) && d.boolValue
        }
        guard !names.isEmpty else { throw DatasetError(file: folder, "no class folders") }
        return names
    }

    /// The non-hidden names in `folder`, sorted by Unicode code points.
    static func entries(_ folder: String) throws -> [String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw DatasetError(file: folder, "cannot list the folder")
        }
        return names.filter { !$0.hasPrefix(".") }.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
    }

    /// Every image of every class folder of `root` as `[N, C, H, W]`, with its class index.
    /// `shape` is `[C, H, W]` once known; `fixed` holds what the config fixed.
    static func read(
        _ root: String, classes: [String], shape: inout [Int]?, fixed: (size: [Int]?, channels: Int?)
    ) throws -> (Tensor, [Int]) {
        var values: [Float] = [], labels: [Int] = []
        for name in try classFolders(root) {
            let folder = (root as NSString).appendingPathComponent(name)
            let files = try entries(folder).filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }
            guard !files.isEmpty else { throw DatasetError(file: folder, "empty class folder: no .png, .jpg or .jpeg file") }
            let label = classes.firstIndex(of: name)!
            for f in files {
                let path = (folder as NSString).appendingPathComponent(f)
                let image = try ImageFile.decode(path: path)
                let target = try sampleShape(image, path: path, shape: &shape, fixed: fixed)
                values += ImageFile.modelInput(image, shape: target)
                labels.append(label)
            }
        }
        return (Tensor(shape: [labels.count] + (shape ?? [1, 1, 1]), scalars: values), labels)
    }

    /// The `[C, H, W]` an image becomes: the configured size and channels, else the first
    /// image's, which every later image must then match.
    static func sampleShape(
        _ image: DecodedImage, path: String, shape: inout [Int]?, fixed: (size: [Int]?, channels: Int?)
    ) throws -> [Int] {
        let own = [image.channels, image.height, image.width]
        guard let s = shape else {
            let first = [fixed.channels ?? own[0]] + (fixed.size ?? [own[1], own[2]])
            shape = first
            return first
        }
        if fixed.channels == nil && own[0] != s[0] {
            throw DatasetError(file: path, "has \(own[0]) channel(s) but the first image has \(s[0]); set data.channels to convert")
        }
        if fixed.size == nil && (own[1] != s[1] || own[2] != s[2]) {
            throw DatasetError(
                file: path, "is \(own[2])x\(own[1]) (WxH) but the first image is \(s[2])x\(s[1]); set data.image_size to resize")
        }
        return s
    }
}
