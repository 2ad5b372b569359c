"""Teaching localvision a user's own classes: a labelled folder (or the Teach page's photos, or
corrections of results) becomes a model package in the store.

    dataset.py   DATA -> classes, a seeded stratified split, the files that could not be read
    augment.py   the training-time transforms (random resized crop, flip, jitter, RandAugment)
    fit.py       the loop: head (cached features), finetune (the last stages) or full
    run.py       one run: data -> fit -> package in the store + its report, with progress events
    report.py    the report folder: per-epoch CSV, confusion matrices, per-class figures, the
                 misclassified contact sheet
    examples.py  the Teach page's photo store (<model_dir>/.teach/<project>/<class>/...)

Validation walks the one road (road.py) with the model being trained passed in as the
inference step, so a trained model is judged on exactly the preprocessing it will serve with.
Training needs torch; nothing here is imported by the serving path.
"""

# The trainer's own exit codes (`localvision train`), beside the CLI's 0, 1 and 2: what a shell
# reports for the signal that stopped it, so the Teach page's job knows a cancel from a crash.
EXIT_INTERRUPTED = 130  # 128 + SIGINT (Ctrl+C): the best epoch so far is kept
EXIT_TERMINATED = 143  # 128 + SIGTERM (the Teach page's Cancel): nothing is written
