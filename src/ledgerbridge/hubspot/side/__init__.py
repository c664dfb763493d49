"""The HubSpot side of the engine: `sync.ports.SidePort` and the payment and deal ports on the
HubSpot connector (contacts, products, invoices, payments, deals)."""
