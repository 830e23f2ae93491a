rule { strings: $a = "x" condition: $a and 
