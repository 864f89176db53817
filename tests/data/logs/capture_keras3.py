"""Regenerate the Keras 3 capture fixtures in this folder (run from the repo root).

    .venv/bin/python tests/data/logs/capture_keras3.py

Each capture is a separate ``python -c`` process whose stdout goes straight to a file,
so the bytes are exactly what Keras writes (ANSI colours, ``\\r`` and ``\\b`` redraws,
callback messages). The fits are tiny (random 8x8 images, a few steps); a
``time.sleep`` per batch makes the progress bar redraw several times per epoch.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

FIT = """
import json, time
import numpy as np
import keras

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.random((256, 8, 8, 3), dtype="float32")
y = rng.integers(0, 10, 256)
model = keras.Sequential([
    keras.Input((8, 8, 3)),
    keras.layers.SeparableConv2D(8, 3, activation="relu"),
    keras.layers.GlobalAveragePooling2D(),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
sleep = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: time.sleep(0.06))
callbacks = [sleep]
if {callbacks}:
    callbacks += [
        keras.callbacks.ModelCheckpoint("capture_best.keras", monitor="val_accuracy",
                                        save_best_only=True, verbose=1),
        # min_delta=1: val_loss never "improves", so the LR drops (1e-4 prints as 1.0000e-04)
        # and training stops early, printing both callbacks' messages.
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.1, patience=1,
                                          min_delta=1.0, verbose=1),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, min_delta=1.0,
                                      restore_best_weights=True, verbose=1),
    ]
if {csv!r}:
    callbacks.append(keras.callbacks.CSVLogger({csv!r}))
history = model.fit(x[:192], y[:192], batch_size=32, epochs={epochs}, verbose={verbose},
                    validation_data=(x[192:], y[192:]) if {validation} else None,
                    callbacks=callbacks)
if {json_path!r}:
    with open({json_path!r}, "w") as fh:
        json.dump({{"epoch": history.epoch, "history": history.history}}, fh, indent=1)
"""

CAPTURES = {
    # name: (verbose, epochs, validation, callbacks, csv, json)
    "keras3_verbose1.txt": (1, 8, True, True, "keras3_csvlogger.csv", "keras3_history.json"),
    "keras3_verbose2.txt": (2, 8, True, True, "", ""),  # same seeded run as verbose1
    "keras3_verbose1_no_validation.txt": (1, 3, False, False, "", ""),
    "keras3_verbose1_single_epoch.txt": (1, 1, True, False, "", ""),
}


def main() -> None:
    for name, (verbose, epochs, validation, callbacks, csv, json_name) in CAPTURES.items():
        code = FIT.format(
            verbose=verbose,
            epochs=epochs,
            validation=validation,
            callbacks=callbacks,
            csv=str(HERE / csv) if csv else "",
            json_path=str(HERE / json_name) if json_name else "",
        )
        with open(HERE / name, "wb") as out:
            subprocess.run([sys.executable, "-c", code], stdout=out, check=True)
        print("wrote", name)


if __name__ == "__main__":
    main()
