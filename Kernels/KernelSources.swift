/// The OpenCL C source of every kernel file, embedded at build time.
public enum KernelSources {
    public static let common = text(PackageResources.common_cl)
    public static let philox = text(PackageResources.philox_cl)
    public static let gemm = text(PackageResources.gemm_cl)
    public static let im2col = text(PackageResources.im2col_cl)
    public static let pooling = text(PackageResources.pooling_cl)
    public static let activation = text(PackageResources.activation_cl)
    public static let bias = text(PackageResources.bias_cl)
    public static let softmax = text(PackageResources.softmax_cl)
    public static let random = text(PackageResources.random_cl)
    public static let lrn = text(PackageResources.lrn_cl)
    public static let elementwise = text(PackageResources.elementwise_cl)
    public static let reduce = text(PackageResources.reduce_cl)
    public static let sgd = text(PackageResources.sgd_cl)
    public static let adam = text(PackageResources.adam_cl)
    public static let indexing = text(PackageResources.indexing_cl)
    public static let lstm = text(PackageResources.lstm_cl)

    private static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
}
