"""Real, widely known people and the relations that point at one: detection lists for text.py."""

from __future__ import annotations

# Full names only, so a first name or a surname that is also a word ("Swift", "Drake", "Pitt")
# does not count alone; the few single names are unmistakable. Folded like prompts: accents
# and hyphens do not matter. Not a register of who may be depicted: the rules only refuse
# these names beside sexual or nudity words, and any real person is protected the same way
# through "my ...", "this woman", "the person in the photo" and the undress rules.
NAMES = """
    Taylor Swift, Beyonce, Beyonce Knowles, Rihanna, Ariana Grande, Selena Gomez, Billie Eilish,
    Dua Lipa, Lady Gaga, Katy Perry, Miley Cyrus, Shakira, Jennifer Lopez, Jennifer Aniston,
    Jennifer Lawrence, Scarlett Johansson, Margot Robbie, Emma Watson, Emma Stone, Zendaya,
    Anne Hathaway, Natalie Portman, Angelina Jolie, Brad Pitt, Leonardo DiCaprio, Tom Cruise,
    Tom Hanks, Tom Holland, Timothee Chalamet, Keanu Reeves, Ryan Reynolds, Ryan Gosling,
    Chris Hemsworth, Chris Evans, Chris Pratt, Robert Downey Jr, Dwayne Johnson,
    Will Smith, Denzel Washington, Morgan Freeman, Johnny Depp, Amber Heard, Gal Gadot,
    Megan Fox, Kim Kardashian, Khloe Kardashian, Kourtney Kardashian, Kylie Jenner,
    Kendall Jenner, Kris Jenner, Kanye West, Bianca Censori, Paris Hilton, Nicki Minaj,
    Cardi B, Megan Thee Stallion, Doja Cat, Olivia Rodrigo, Sabrina Carpenter, Lizzo, Adele,
    Harry Styles, Justin Bieber, Hailey Bieber, Ed Sheeran, Shawn Mendes, The Weeknd,
    Bad Bunny, Eminem, Snoop Dogg, Jay Z, Travis Scott, Travis Kelce, Post Malone,
    Bruno Mars, Sydney Sweeney, Jenna Ortega, Millie Bobby Brown, Florence Pugh, Anya Taylor Joy,
    Zoe Kravitz, Blake Lively, Sofia Vergara, Salma Hayek, Penelope Cruz, Charlize Theron,
    Nicole Kidman, Kate Winslet, Keira Knightley, Emma Roberts, Kristen Stewart,
    Robert Pattinson, Henry Cavill, Pedro Pascal, Jason Momoa, Idris Elba, Jamie Dornan,
    Hugh Jackman, Daniel Radcliffe, Rupert Grint, Emilia Clarke, Sophie Turner,
    Maisie Williams, Kit Harington, Cate Blanchett, Meryl Streep, Julia Roberts,
    Sandra Bullock, Halle Berry, Viola Davis, Oprah, Oprah Winfrey, Ellen DeGeneres,
    Kelly Clarkson, Jennifer Coolidge, Pamela Anderson, Marilyn Monroe, Madonna Ciccone,
    Britney Spears, Christina Aguilera, Jessica Alba, Eva Mendes, Mila Kunis, Ashton Kutcher,
    Cristiano Ronaldo, Lionel Messi, Neymar, Kylian Mbappe, David Beckham, Victoria Beckham,
    Serena Williams, Venus Williams, Naomi Osaka, Simone Biles, LeBron James, Michael Jordan,
    Tom Brady, Usain Bolt, Roger Federer, Rafael Nadal, Novak Djokovic, Conor McGregor,
    Ronda Rousey, Lewis Hamilton, Tiger Woods, Caitlin Clark, Alex Morgan, Megan Rapinoe,
    Donald Trump, Melania Trump, Ivanka Trump, Joe Biden, Jill Biden, Kamala Harris,
    Barack Obama, Michelle Obama, Hillary Clinton, Bill Clinton, Nancy Pelosi,
    Alexandria Ocasio Cortez, AOC, Bernie Sanders, Ron DeSantis, JD Vance, Mike Pence,
    Vladimir Putin, Xi Jinping, Emmanuel Macron, Brigitte Macron, Angela Merkel, Olaf Scholz,
    Giorgia Meloni, Rishi Sunak, Keir Starmer, Boris Johnson, Theresa May, Liz Truss,
    Justin Trudeau, Narendra Modi, Volodymyr Zelensky, Volodymyr Zelenskyy, Benjamin Netanyahu,
    Recep Tayyip Erdogan, Jacinda Ardern, Greta Thunberg, Malala Yousafzai, Al Gore,
    Dick Cheney, King Charles, Queen Camilla, Prince William, Prince Harry, Kate Middleton,
    Catherine Middleton, Princess Diana, Meghan Markle, Queen Elizabeth, Pope Francis,
    Elon Musk, Mark Zuckerberg, Jeff Bezos, Bill Gates, Steve Jobs, Tim Cook, Sam Altman,
    Warren Buffett, Jensen Huang, MrBeast, Mr Beast, PewDiePie, Pokimane, Amouranth,
    Belle Delphine, Addison Rae, Charli DAmelio, Dixie DAmelio, Logan Paul, Jake Paul,
    KSI, Emma Chamberlain, Andrew Tate, Jordan Peterson, Joe Rogan, Kai Cenat, IShowSpeed,
    Jenna Marbles, Bella Hadid, Gigi Hadid, Kaia Gerber, Cara Delevingne, Naomi Campbell,
    Kate Moss, Heidi Klum, Tyra Banks, Adriana Lima, Gisele Bundchen, Emily Ratajkowski,
    Hailee Steinfeld, Dakota Johnson, Elle Fanning, Dakota Fanning, Chloe Grace Moretz,
    Madison Beer, Ice Spice, Jennie Kim, Lisa Manoban, Jisoo, Jungkook, Lalisa,
    Priyanka Chopra, Deepika Padukone, Alia Bhatt, Shah Rukh Khan, Aishwarya Rai,
    Jackie Chan, Scarlett Johannson, Obama, Biden, Putin, Zelensky, Zelenskyy, Macron,
    Merkel, Trudeau, Kardashian, Kardashians
"""

# "my <relation>" and "our <relation>": someone the user knows, so real and identifiable.
RELATIONS = """
    ex, ex girlfriend, ex boyfriend, ex wife, ex husband, ex partner, girlfriend, boyfriend,
    wife, husband, partner, gf, bf, ex gf, ex bf, fiance, fiancee, crush, date, boss, manager,
    coworker, co worker,
    colleague, classmate, teacher, professor, tutor, student, neighbor, neighbour, neighbors,
    neighbours, roommate, flatmate, housemate, friend, best friend, friends, girl friend,
    sister, brother, mom, mother, mum, dad, father, aunt, uncle, cousin, stepsister,
    step sister, stepbrother, step brother, stepmom, step mom, stepmother, stepdad, step dad,
    stepfather, sister in law, brother in law, mother in law, landlord, landlady, tenant,
    employee, secretary, assistant, nurse, doctor, therapist, coach, trainer, babysitter,
    nanny, maid, cleaner, pastor, priest, ex bestie, bestie, crush from school,
    wifey, hubby, bae, babe, girl, guy, lady, man, woman, niece, nephew, daughter, son
"""
