package statemem

// IdemLen reports how many idempotency claims h holds, expired or not.
func IdemLen(h *Hot) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.idem)
}
