"""Eager execution for the TF2 API (`graphc.v2`): ops recorded lazily, realised as compiled steps.

An eager op does not run when Python calls it: it is added to the graph of the
current *step* (`context.Step`) and its result is an `EagerTensor` standing
for a tensor of that graph. When Python needs a value (`.numpy()`, `print`,
`bool()`, a NumPy call, an optimizer's update) the step runs: its graph is
compiled through the normal pipeline and run as one native call, NumPy inputs
being the step's feeds. A step whose structure and feed shapes were seen
before reuses that compiled library (`runtime.EagerSession`); a step repeating
a recorded one is not even built: its calls are matched against the recorded
trace and replayed (`trace`).
"""
