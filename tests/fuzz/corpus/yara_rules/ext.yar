rule e { condition: filename matches /x/ }
