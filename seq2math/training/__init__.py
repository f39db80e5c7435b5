"""Training, written out, in reading order:

config.py          RunConfig (task + model + train), TrainConfig and its size presets (no torch import)
schedule.py        learning rate: warm-up, inverse square root / cosine / constant, cooldown
runtime.py         devices, CPU threads, precision, torchrun processes, SIGINT/SIGTERM
loss.py            the objectives (seq2seq teacher forcing, masked tokens) as one loss module
run_data.py        the training stream (file or generated) and the fixed validation set
early_stopping.py  which validation is the best, when patience runs out
checkpoint.py      run directories: safetensors weights, train_state.pt, config, vocab, metrics.jsonl
loop.py            the Trainer: steps, logging, validation (seq2math.evaluation), checkpoints, resume
export.py          small fp16 checkpoints of a run, and a resumable run from one

Usage::

    from seq2math.training.config import RunConfig, TrainConfig
    from seq2math.training.loop import train

    config = RunConfig(task={"name": "transpose", "dim": 5}, train=TrainConfig(max_steps=1000))
    summary = train(config, "runs/t")       # {"step", "stop", "elapsed", "best", "best_step"}
"""
