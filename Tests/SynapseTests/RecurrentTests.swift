import Foundation
import Synapse
import XCTest

/// The recurrent layers against PyTorch, from a committed fixture (scripts/make-lstm-fixture.py wrote it; this
/// test needs no PyTorch).
final class RecurrentTests: SynapseTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/lstm-torch.safetensors").path

    /// `torch.nn.LSTM(3, 4, num_layers=2, batch_first=True)`: the same weights (same names and layouts) give
    /// the same output, input gradient and weight gradients of `sum(y * r)`.
    func testLSTMMatchesTorch() throws {
        let reference = try SafeTensors.read(from: Self.fixture)
        func values(_ name: String) throws -> [Float] { try XCTUnwrap(reference.tensors[name], name).values }
        forEachBackend { backend in
            let model = try Sequential(inputShape: [5, 3], layers: [LSTM(hidden: 4, layers: 2, name: "lstm")],
                                       backend: backend, seed: 1)
            XCTAssertEqual(Set(model.parameters.map(\.name)),
                           Set(reference.tensors.keys.filter { $0.hasPrefix("lstm.") }), "PyTorch's parameter names")
            for p in model.parameters {
                XCTAssertEqual(reference.tensors[p.name]?.shape, p.shape, "\(p.name): PyTorch's layout")
                try backend.upload(values(p.name), to: p.value)
            }
            let x = try backend.tensor(values("x"), shape: [2, 5, 3])
            let y = try model.forward(x, training: true)
            let call = OpCall(backend, "LSTM", "2 layers, hidden 4, against torch.nn.LSTM")
            assertClose(try backend.download(y), try values("y").map(Double.init), call, "output")
            model.zeroGradients()
            let dx = try model.backward(backend.tensor(values("r"), shape: [2, 5, 4]))
            assertClose(try backend.download(dx), try values("grad.x").map(Double.init), call, "input gradient")
            for p in model.parameters {
                assertClose(try backend.download(p.gradient), try values("grad." + p.name).map(Double.init), call, p.name)
            }
        }
    }
}
