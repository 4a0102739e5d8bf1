package worker

// DecodesCompletion reports whether DecodeCompletion decodes doc itself,
// without encoding/json.
func DecodesCompletion(doc []byte) bool { return decodeCompletion(doc, &Completion{}) }

// EncodesCompletion reports whether encodeCompletion writes c itself.
func EncodesCompletion(c *Completion) bool { _, ok := c.appendJSON(nil); return ok }
