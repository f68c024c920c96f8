/* placeholder until the holder-path component lands */
