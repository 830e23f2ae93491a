rule a : t1 t2 { strings: $s = "abc" nocase wide ascii condition: $s }
