/// A value handed to other threads whose safety the type system cannot check, such as raw pointers into buffers
/// that each thread writes a disjoint part of; the caller states why it holds. Visible within the package only.
package struct UncheckedSendable<Value>: @unchecked Sendable {
    package let value: Value
    package init(_ value: Value) { self.value = value }
}
