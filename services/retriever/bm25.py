"""Lucene's BM25 arithmetic (float32, SmallFloat-quantized field lengths) for the embedded index."""

from __future__ import annotations

import numpy as np


def _long_to_int4(i: int) -> int:
    num_bits = i.bit_length()
    if num_bits < 4:
        return i
    shift = num_bits - 4
    encoded = (i >> shift) & 0x07
    return encoded | ((shift + 1) << 3)


def _int4_to_long(i: int) -> int:
    bits = i & 0x07
    shift = (i >> 3) - 1
    return bits if shift == -1 else (bits | 0x08) << shift


_MAX_INT4 = _long_to_int4(2**31 - 1)
_NUM_FREE_VALUES = 255 - _MAX_INT4


def int_to_byte4(i: int) -> int:
    """Lucene's SmallFloat.intToByte4 (as an unsigned byte): how a field length is stored in norms."""
    if i < _NUM_FREE_VALUES:
        return i
    return _NUM_FREE_VALUES + _long_to_int4(i - _NUM_FREE_VALUES)


def byte4_to_int(b: int) -> int:
    """Lucene's SmallFloat.byte4ToInt: the field length a stored norm stands for."""
    if b < _NUM_FREE_VALUES:
        return b
    return _NUM_FREE_VALUES + _int4_to_long(b - _NUM_FREE_VALUES)


LENGTH_TABLE = np.array([byte4_to_int(i) for i in range(256)], dtype=np.float32)


def norm_bytes(lengths: np.ndarray) -> np.ndarray:
    """Field lengths as Lucene stores them in norms: one SmallFloat.intToByte4 byte each."""
    lengths = np.asarray(lengths, dtype=np.int64)
    encode = np.array(
        [int_to_byte4(n) for n in range(min(int(lengths.max(initial=0)) + 1, 1 << 16))], dtype=np.uint8
    )
    out = np.empty(len(lengths), dtype=np.uint8)
    small = lengths < len(encode)
    out[small] = encode[lengths[small]]
    for i in np.flatnonzero(~small):
        out[i] = int_to_byte4(int(lengths[i]))
    return out


def norm_inverse(lengths: np.ndarray, avgdl: float, k1: float, b: float) -> np.ndarray:
    """BM25Similarity's 1 / (k1 * ((1 - b) + b * length / avgdl)) of (quantized) lengths, in float32."""
    k1f, bf, avg = np.float32(k1), np.float32(b), np.float32(avgdl)
    lengths = np.asarray(lengths, dtype=np.float32)
    return (np.float32(1.0) / (k1f * ((np.float32(1.0) - bf) + bf * lengths / avg))).astype(np.float32)


def norm_inverse_table(avgdl: float, k1: float, b: float) -> np.ndarray:
    """BM25Similarity's per-norm cache: norm_inverse of the length each norm byte stands for."""
    return norm_inverse(LENGTH_TABLE, avgdl, k1, b)


def lucene_idf(doc_freq: np.ndarray, doc_count: int) -> np.ndarray:
    """BM25Similarity.idf: log(1 + (N - df + 0.5) / (df + 0.5)), in double, stored as float."""
    df = doc_freq.astype(np.float64)
    return np.log(1.0 + (doc_count - df + 0.5) / (df + 0.5)).astype(np.float32)


def lucene_scores(
    tf: np.ndarray, doc_length: np.ndarray, idf: np.ndarray, avgdl: float, k1: float, b: float
) -> np.ndarray:
    """Per-posting scores as BM25Scorer computes them: weight - weight / (1 + freq * normInverse)."""
    return boosted_scores(1.0, idf, np.asarray(tf, dtype=np.float32), norm_inverse(doc_length, avgdl, k1, b))


def boosted_scores(
    boost: float, idf: np.float32 | np.ndarray, tf: np.ndarray, inverse: np.ndarray
) -> np.ndarray:
    """Scores under a boost, as BM25Scorer computes them: weight = boost * idf first, in float32."""
    weight = np.float32(boost) * np.asarray(idf, dtype=np.float32)
    return weight - weight / (np.float32(1.0) + tf * inverse)
