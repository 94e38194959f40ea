// The LSTM cell (gates i, f, g, o in PyTorch's order) for one time step of a [batch, hidden] state, fused:
// the GEMMs that make the gates' pre-activations run before, as GEMMs.

float lstm_sigmoid(const float x) { return 1.0f / (1.0f + exp(-x)); }

// gates [batch, 4 * hidden] holds the pre-activations a_i, a_f, a_g, a_o and receives the activations
// i = s(a_i), f = s(a_f), g = tanh(a_g), o = s(a_o), which the backward pass reads;
// cell = f * previous_cell + i * g, cell_tanh = tanh(cell) (kept for the backward pass), hidden = o * cell_tanh.
__kernel void lstm_cell_forward(__global float* gates, const int gates_offset, __global const float* previous_cell,
                                const int previous_cell_offset, __global float* cell, const int cell_offset,
                                __global float* cell_tanh, const int cell_tanh_offset, __global float* hidden,
                                const int hidden_offset, const int batch, const int width) {
    gates += gates_offset;
    previous_cell += previous_cell_offset;
    cell += cell_offset;
    cell_tanh += cell_tanh_offset;
    hidden += hidden_offset;
    FOR_EACH_INDEX(e, batch * width) {
        __global float* gate = gates + (e / width) * 4 * width + e % width;
        const float i = lstm_sigmoid(gate[0]), f = lstm_sigmoid(gate[width]);
        const float g = tanh(gate[2 * width]), o = lstm_sigmoid(gate[3 * width]);
        gate[0] = i;
        gate[width] = f;
        gate[2 * width] = g;
        gate[3 * width] = o;
        const float c = f * previous_cell[e] + i * g, t = tanh(c);
        cell[e] = c;
        cell_tanh[e] = t;
        hidden[e] = o * t;
    }
}

// From the activated gates, the previous cell, this step's tanh(cell) and the gradients of this step's hidden state
// and cell: the gradients of the four pre-activations into grad_gates, and the gradient of the previous cell into
// grad_cell (in place).
__kernel void lstm_cell_backward(__global const float* gates, const int gates_offset,
                                 __global const float* previous_cell, const int previous_cell_offset,
                                 __global const float* cell_tanh, const int cell_tanh_offset,
                                 __global const float* grad_hidden, const int grad_hidden_offset,
                                 __global float* grad_cell, const int grad_cell_offset, __global float* grad_gates,
                                 const int grad_gates_offset, const int batch, const int width) {
    gates += gates_offset;
    previous_cell += previous_cell_offset;
    cell_tanh += cell_tanh_offset;
    grad_hidden += grad_hidden_offset;
    grad_cell += grad_cell_offset;
    grad_gates += grad_gates_offset;
    FOR_EACH_INDEX(e, batch * width) {
        const int start = (e / width) * 4 * width + e % width;
        const float i = gates[start], f = gates[start + width], g = gates[start + 2 * width];
        const float o = gates[start + 3 * width];
        const float t = cell_tanh[e], dh = grad_hidden[e];
        const float dc = grad_cell[e] + dh * o * (1.0f - t * t);
        grad_gates[start] = dc * g * i * (1.0f - i);
        grad_gates[start + width] = dc * previous_cell[e] * f * (1.0f - f);
        grad_gates[start + 2 * width] = dc * i * (1.0f - g * g);
        grad_gates[start + 3 * width] = dh * t * o * (1.0f - o);
        grad_cell[e] = dc * f;
    }
}
