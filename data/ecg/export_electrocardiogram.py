#!/usr/bin/env python3
"""Writes SciPy's electrocardiogram to a text file, one value (millivolts) per line.

    python3 data/ecg/export_electrocardiogram.py OUT.txt

The series: 108,000 samples at 360 Hz (5 minutes), lead MLII of record 208 of the MIT-BIH Arrhythmia Database
(PhysioNet; Open Data Commons Attribution License), as SciPy ships it: scipy.datasets.electrocardiogram (SciPy >= 1.10,
which downloads it with pooch on first use) or scipy.misc.electrocardiogram (SciPy < 1.12, in the package itself, no
network). The file is about 0.7 MB and is not committed: the ecg-anomaly sample and bench part (l) run this script
when the file is missing. Values are written with repr(), so the file holds exactly SciPy's float64 values, which
are multiples of 0.005 mV.
"""
import sys
import warnings


def electrocardiogram():
    try:
        from scipy.datasets import electrocardiogram as load  # SciPy >= 1.10, needs pooch (downloads on first use)
        return load()
    except Exception as first:  # no scipy.datasets, no pooch, or no network
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                from scipy.misc import electrocardiogram as load  # SciPy < 1.12, shipped inside the package
                return load()
        except Exception as second:
            raise SystemExit(f"export_electrocardiogram.py: SciPy's electrocardiogram is not available "
                             f"(scipy.datasets: {first!r}; scipy.misc: {second!r}). Install SciPy 1.10 or 1.11 "
                             f"(Debian 12: apt-get install python3-scipy), or SciPy with pooch and network access.")


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    values = electrocardiogram()
    if values.shape != (108000,):
        raise SystemExit(f"export_electrocardiogram.py: expected 108000 samples, got shape {values.shape}")
    with open(sys.argv[1], "w", encoding="ascii") as f:
        f.write("\n".join(repr(float(v)) for v in values))
        f.write("\n")
    print(f"export_electrocardiogram.py: wrote {values.size} samples (360 Hz) to {sys.argv[1]}", file=sys.stderr)


if __name__ == "__main__":
    main()
