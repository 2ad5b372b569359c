"""Reading the text in photos: a second kind of model on the same road (road.py's Read step).

    package.py  the reader's package in the store: detector, orientation and recogniser models,
                their versions and SHA-256, copied from the rapidocr wheel (nothing downloaded)
    reader.py   TextReader: a photo's bytes -> its lines (string, confidence, box), decoded by
                the same safe decoder with the same limits as the classifier
    order.py    lines in reading order (pure)
"""
