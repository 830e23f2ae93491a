rule g { strings: $a = "x" xor(1-255) base64 condition: #a > 2 and @a[1] < 10 }
