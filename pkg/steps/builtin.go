package steps

// Step classes of the built-in handlers.
const (
	ClassEcho      = "echo"
	ClassTransform = "transform"
	ClassFail      = "fail"
	ClassSleep     = "sleep"
	ClassExec      = "exec"
)

// RegisterBuiltins registers echo, transform, fail, sleep and exec on r.
// It panics if one of those classes is already registered.
//
// exec runs any command a pipeline names, so register the built-ins only
// where pipelines are as trusted as the Python modules they import.
func RegisterBuiltins(r *Registry) {
	r.Register(ClassEcho, Echo())
	r.Register(ClassTransform, Transform())
	r.Register(ClassFail, Fail())
	r.Register(ClassSleep, Sleep())
	r.Register(ClassExec, Exec(ExecConfig{}))
}

// Builtins returns a new registry holding the built-in handlers.
func Builtins() *Registry {
	r := NewRegistry()
	RegisterBuiltins(r)
	return r
}
