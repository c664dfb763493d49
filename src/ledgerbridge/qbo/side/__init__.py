"""The QBO side of the engine: `sync.ports.SidePort` and the payment port on the QBO connector
(customers, items, invoices, payments)."""
