package statepg

// BatchRounds exposes batchRounds to the external tests.
var BatchRounds = batchRounds

// RoundSQL returns every variant of the round statement.
func RoundSQL() []string { return roundSQL[:] }
