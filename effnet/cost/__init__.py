"""What a network costs to run: measured, recorded and predicted latency, memory traffic and the roofline.

    devices          the device table (GPU peaks per dtype, memory bandwidths), the latency modes and
                     their labels, the CPU's name; torch-free, the one place these facts are written
    latency          measure_latency: one forward pass of a batch, timed honestly (torch)
    runtime_latency  measure_onnxruntime_latency: the same recipe in ONNX Runtime on the CPU
    summary          latency_sentence: a measurement and its conditions in one line (the CLI's and the app's)
    traffic          the bytes each layer reads and writes, in closed form
    roofline         the roofline's arithmetic, and a probe of this machine's CPU
    predict          a GPU's eager latency predicted per layer (roofline plus launch cost)
    calibrate        predict's constants fitted on recorded runs, with held-out errors
    recorded         the GPU runs in benchmarks/results, read back and checked

Nothing is imported here, so `import effnet.cost.devices` (the app's slider path) never pays for torch;
import the module you need.
"""
