rule b { strings: $h = { 4D 5A ?? [2-4] 00 } $r = /fo+ba?r/i condition: any of them and filesize < 1MB }
rule c { condition: b }
