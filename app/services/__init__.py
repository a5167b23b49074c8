"""Every cache and lock of the app lives in this package (pages and components hold none).

- `profiles`: the slider path's FLOPs series (`st.cache_data` by value); profiles come from
  effnet.profile, which caches by value itself.
- `latency`: on-demand timing through effnet.measure_latency (which serialises measurements).
- `cam`: trained, untrained and checkpoint networks (`st.cache_resource`, shared and read-only)
  and their class-activation maps (`st.cache_data`, keyed by the image's hash and the settings).
- `plans`: the matched-FLOPs plan of a configuration (`st.cache_data` by value; no torch), and the
  experiment's base as its command line builds it (effnet.experiment.run.base_config).
- `experiment`: the experiment's results.json (by file version), its trained networks rebuilt from
  their stored configurations (`st.cache_resource`), effnet.experiment.panels' pictures of them
  (`st.cache_data`), and the verdicts the Learn page cites (`lab_verdicts`).
- `exports`: the current configuration's ONNX file (`st.cache_resource`, a few immutable entries) and
  its ONNX Runtime latency (not cached), both on demand.
- `sanity`: finished sanity checks of every session (`store.SharedStore`, one lock), and `store`
  itself: results of work that shows progress while it runs (faithfulness too).
- `roofline`: this CPU's measured roof (`st.cache_resource`, probed once under a lock; a frozen Device).
- `training`: the one training subprocess a server runs at a time, and its progress (a lock).
"""
