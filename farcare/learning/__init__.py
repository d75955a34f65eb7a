"""Learning that counts: surveys before and after a series, short tests marked automatically,
credit hours, and certificates anyone can verify by their code."""
