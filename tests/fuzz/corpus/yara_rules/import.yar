import "pe"
rule d { condition: pe.is_pe }
