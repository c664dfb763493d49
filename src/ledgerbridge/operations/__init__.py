"""Operations the engine performs on request (workflow actions, …), over the connectors."""
