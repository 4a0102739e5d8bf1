package worker

// EncodeCompletion exposes encodeCompletion to the external tests.
var EncodeCompletion = encodeCompletion

// DecodesCompletion reports whether DecodeCompletion decodes doc itself,
// without encoding/json.
func DecodesCompletion(doc []byte) bool { return decodeCompletion(doc, &Completion{}) }

// EncodesCompletion reports whether encodeCompletion writes c itself.
func EncodesCompletion(c *Completion) bool { _, ok := c.appendJSON(nil); return ok }
