"""The cleaner service: cleans and filters corpora, removes duplicates, splits sentences."""
